import { describe, expect, it } from 'vitest';
import { replicaLagAlert } from '../ops/alerts.js';
import { formatLsn, lagOf, parseLsn, replicaName, type ReplicaStatus } from './replicas.js';

describe('WAL positions', () => {
  it('reads and writes pg_lsn text as numbers that order like the log', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('0/1D74618')).toBe(0x1d74618n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    for (const text of ['0/0', '0/1D74618', '16/B374D848', 'FFFFFFFF/FFFFFFFF']) {
      expect(formatLsn(parseLsn(text))).toBe(text);
    }
    for (const bad of ['', '0', '0/', 'x/1', '0/1/2', '123456789/0']) expect(() => parseLsn(bad)).toThrow();
  });

  it('names a replica by host, port and database, never its credentials', () => {
    expect(replicaName('postgresql://app:secret@replica-1.internal:6432/lodestar?sslmode=require')).toBe(
      'replica-1.internal:6432/lodestar',
    );
    expect(replicaName('postgres://app@replica-2/lodestar')).toBe('replica-2:5432/lodestar');
  });
});

describe('lagOf', () => {
  const samples = [
    { at: 1000, lsn: 100n },
    { at: 2000, lsn: 200n },
    { at: 3000, lsn: 300n },
  ];
  it('is 0 for a replica that has replayed the newest position read', () => {
    expect(lagOf(samples, 300n, 3500)).toEqual({ seconds: 0, bytes: 0 });
    expect(lagOf(samples, 350n, 3500)).toEqual({ seconds: 0, bytes: 0 });
    expect(lagOf([], 0n, 3500)).toEqual({ seconds: 0, bytes: 0 });
  });
  it('is at most the age of the newest position it has replayed, and the bytes behind the newest', () => {
    expect(lagOf(samples, 250n, 3500)).toEqual({ seconds: 1.5, bytes: 50 });
    expect(lagOf(samples, 200n, 3500)).toEqual({ seconds: 1.5, bytes: 100 });
    expect(lagOf(samples, 150n, 3500)).toEqual({ seconds: 2.5, bytes: 150 });
  });
  it('is unknown for a replica behind every sample kept (just started, or far behind)', () => {
    expect(lagOf(samples, 50n, 3500)).toEqual({ seconds: null, bytes: 250 });
    // The first check of all: one sample, a replica a little behind it is not yet known to be close.
    expect(lagOf([{ at: 1000, lsn: 5_000_000_000n }], 10n, 1000)).toEqual({
      seconds: null,
      bytes: 4_999_999_990,
    });
  });
});

describe('replicaLagAlert', () => {
  const status = (over: Partial<ReplicaStatus>): ReplicaStatus => ({
    name: 'r1:5432/lodestar',
    state: 'ok',
    lagSeconds: 0.2,
    lagBytes: 10,
    replayLsn: '0/10',
    checkedAt: new Date(),
    error: null,
    ...over,
  });
  it('is absent without replicas', () => {
    expect(replicaLagAlert([], { replicaLagSec: 5 })).toBeNull();
  });
  it('fires for a replica behind by more than the threshold, or down, naming it', () => {
    expect(replicaLagAlert([status({})], { replicaLagSec: 5 })).toMatchObject({
      rule: 'replica_lag',
      severity: 'critical',
      firing: false,
      value: 0.2,
      threshold: 5,
    });
    const behind = replicaLagAlert([status({}), status({ name: 'r2:5432/lodestar', lagSeconds: 7.25 })], {
      replicaLagSec: 5,
    })!;
    expect(behind).toMatchObject({ firing: true, value: 7.25 });
    expect(behind.message).toContain('r2:5432/lodestar is 7.3 s behind the primary');
    const down = replicaLagAlert(
      [
        status({}),
        status({ name: 'r2:5432/lodestar', state: 'down', lagSeconds: null, error: 'ECONNREFUSED' }),
      ],
      { replicaLagSec: 5 },
    )!;
    expect(down).toMatchObject({ firing: true, value: 0.2 });
    expect(down.message).toContain('r2:5432/lodestar is down (ECONNREFUSED)');
    expect(
      replicaLagAlert([status({ state: 'promoted', error: 'not in recovery' })], { replicaLagSec: 5 }),
    ).toMatchObject({ firing: true, value: null });
  });
});
