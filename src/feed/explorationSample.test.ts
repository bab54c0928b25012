import { describe, expect, it } from 'vitest';
import { createExplorationSample, seededPick } from './explorationSample.js';

const range = (n: number, from = 1) => Array.from({ length: n }, (_v, i) => from + i);

describe('seededPick', () => {
  it('gives one session the same order every time and another session a different one', () => {
    const ids = range(2000, 100);
    const a = seededPick(ids, 42, 80);
    expect(seededPick(ids, 42, 80)).toEqual(a);
    const b = seededPick(ids, 43, 80);
    expect(b).not.toEqual(a);
    // Mostly different listings, not the same ones shifted.
    expect(b.filter((id) => a.includes(id)).length).toBeLessThan(20);
  });

  it('returns distinct listings of the sample, at most as many as asked or held', () => {
    const ids = range(50);
    const picked = seededPick(ids, 7, 20);
    expect(picked).toHaveLength(20);
    expect(new Set(picked).size).toBe(20);
    for (const id of picked) expect(ids).toContain(id);
    expect(seededPick(ids, 7, 500)).toHaveLength(50);
    expect(seededPick([], 7, 10)).toEqual([]);
    expect(seededPick(ids, 7, 0)).toEqual([]);
  });

  it('picks the first `count` of the seed’s whole order, for any count (pages of one session agree)', () => {
    const ids = range(2000, 100);
    for (const seed of [1, 42, 2 ** 31 - 2]) {
      const whole = seededPick(ids, seed, ids.length);
      for (const count of [1, 2, 7, 160, 999, 1999])
        expect(seededPick(ids, seed, count)).toEqual(whole.slice(0, count));
    }
  });

  it('favours no listing: over many sessions each comes first about equally often', () => {
    const ids = range(20);
    const first = new Map<number, number>();
    for (let seed = 0; seed < 20_000; seed += 1) {
      const [top] = seededPick(ids, seed, 1);
      first.set(top!, (first.get(top!) ?? 0) + 1);
    }
    // 1,000 expected each; a fair draw stays well within ±20 %.
    expect(first.size).toBe(20);
    for (const count of first.values()) expect(Math.abs(count - 1000)).toBeLessThan(200);
  });

  it('refuses a sample too large to order exactly', () => {
    expect(() => seededPick(new Int32Array(2 ** 21 + 1), 1, 5)).toThrow(RangeError);
    const picked = seededPick(range(5000), 1, 5000);
    expect(picked).toHaveLength(5000);
    expect(new Set(picked).size).toBe(5000);
  });
});

/** A stand-in for the database's answer (the SQL itself is tested against Postgres in test/feed). */
function fakeService(draws: (number[] | Error)[]) {
  const calls: unknown[][] = [];
  return {
    calls,
    service: {
      query: async <R>(_text: string, values: unknown[]): Promise<R[]> => {
        calls.push(values);
        const next = draws[Math.min(calls.length - 1, draws.length - 1)]!;
        await Promise.resolve();
        if (next instanceof Error) throw next;
        return next.map((id) => ({ id })) as R[];
      },
    },
  };
}

describe('createExplorationSample', () => {
  const quiet = { warn: () => undefined };

  it('draws once per scope and serves later picks from the draw until it is due', async () => {
    let clock = 0;
    const { service, calls } = fakeService([range(100), range(100, 1000)]);
    const sample = createExplorationSample({ service, logger: quiet, refreshMs: 30_000, now: () => clock });
    const [a, b] = await Promise.all([sample.pick(null, 1, 10), sample.pick(null, 1, 10)]);
    expect(calls).toHaveLength(1);
    expect(a).toEqual(b);
    expect(a.every((id) => id <= 100)).toBe(true);
    clock = 29_999;
    await sample.pick(null, 2, 10);
    expect(calls).toHaveLength(1);
    // Due: this pick still gets the last draw, and a new one starts behind it.
    clock = 30_000;
    expect((await sample.pick(null, 1, 10)).every((id) => id <= 100)).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toHaveLength(2);
    expect((await sample.pick(null, 1, 10)).every((id) => id >= 1000)).toBe(true);
  });

  it('keeps a sample per category filter', async () => {
    const { service, calls } = fakeService([range(10)]);
    const sample = createExplorationSample({ service, logger: quiet, refreshMs: 30_000 });
    await sample.pick(null, 1, 5);
    await sample.pick(3, 1, 5);
    await sample.pick(3, 2, 5);
    // The whole catalogue's sample (its size only), then category 3's.
    expect(calls).toEqual([[2000], [3, 2000]]);
  });

  it('keeps the last draw when a redraw fails, says so, and tries again a period later', async () => {
    let clock = 0;
    const warnings: string[] = [];
    const { service, calls } = fakeService([range(10), new Error('connection refused'), range(10, 50)]);
    const sample = createExplorationSample({
      service,
      logger: { warn: (_fields, message) => warnings.push(message) },
      refreshMs: 1000,
      now: () => clock,
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    await sample.pick(null, 1, 5);
    clock = 1000;
    expect(await sample.pick(null, 1, 5)).toHaveLength(5);
    await settle();
    expect(calls).toHaveLength(2);
    expect(warnings).toEqual(['could not redraw the exploration sample; keeping the last']);
    // Not a redraw per request while the database is away: the last draw serves for another period.
    clock = 1999;
    for (let i = 0; i < 5; i += 1) expect((await sample.pick(null, i, 5)).every((id) => id <= 10)).toBe(true);
    await settle();
    expect(calls).toHaveLength(2);
    clock = 2000;
    await sample.pick(null, 1, 5);
    await settle();
    expect(calls).toHaveLength(3);
    expect((await sample.pick(null, 1, 5)).every((id) => id >= 10)).toBe(true);
  });

  it('fails the first pick of a scope when nothing could be drawn', async () => {
    const { service } = fakeService([new Error('connection refused')]);
    const sample = createExplorationSample({ service, logger: quiet, refreshMs: 1000 });
    await expect(sample.pick(null, 1, 5)).rejects.toThrow('connection refused');
  });
});
