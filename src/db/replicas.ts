import type { Config } from '../config/config.js';
import { isConnectionError, isPoolAcquireTimeout, isRecoveryConflict } from '../errors/databaseErrors.js';
import { coerceError } from '../errors/errors.js';
import type pg from 'pg';
import type { Logger } from '../platform/logger.js';
import { createPool } from '../platform/pool.js';
import type { Metrics } from '../platform/metrics.js';
import { createDatabase, type Database } from './database.js';
import type { ServiceDb } from './service.js';

/**
 * Read replicas (DATABASE_READ_URLS; docs/architecture.md#read-replicas). Each replica gets the same
 * pools as the primary (main, service, generic), under the same role and settings: a physical replica
 * has the primary's roles and policies. A monitor reads the primary's WAL position and each replica's
 * replay position every REPLICA_CHECK_MS; a replica takes reads while it answers, is still a replica
 * and is no more than REPLICA_MAX_LAG_MS behind. A read that cannot reach its replica runs on the
 * primary (src/platform/pool.ts, FallbackPool) and the replica is skipped until it answers a check again.
 */

/** A WAL position (pg_lsn) as a number: `X/Y` is X·2³² + Y. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new Error(`not a WAL position: ${text}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** A WAL position as 16 hex digits, so positions compare as strings (in Redis scripts); parseLsnHex reads it. */
export const lsnHex = (lsn: bigint): string => lsn.toString(16).padStart(16, '0');
export const parseLsnHex = (hex: string): bigint => BigInt(`0x${hex}`);

/**
 * How long a write's WAL position matters for routing (a viewer's fence, a feature tombstone): past
 * REPLICA_MAX_LAG_MS and three checks, every replica that takes reads has replayed it.
 */
export const fenceTtlMsOf = (
  config: Pick<Config['database'], 'replicaMaxLagMs' | 'replicaCheckMs'>,
): number => config.replicaMaxLagMs + 3 * config.replicaCheckMs;

/** The pg_lsn spelling of a WAL position. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** ok: takes reads; lagging: further behind than REPLICA_MAX_LAG_MS; down: unreachable; promoted: no longer a replica. */
export type ReplicaState = 'starting' | 'ok' | 'lagging' | 'down' | 'promoted';

export interface ReplicaStatus {
  /** host:port/database, never credentials. */
  name: string;
  state: ReplicaState;
  /** How long ago the primary had written what this replica has not replayed (0 = caught up). */
  lagSeconds: number | null;
  lagBytes: number | null;
  replayLsn: string | null;
  checkedAt: Date | null;
  /** Why it is down (the last failure's message). */
  error: string | null;
}

export interface ReadRouting {
  /** How many replicas are configured (0: every read is the primary's). */
  readonly size: number;
  /**
   * A replica for a request's reads that takes reads and has replayed `fence` (null: any), taking turns;
   * null when none does (the caller reads from the primary).
   */
  pick(fence: bigint | null): Database | null;
  /**
   * The primary's WAL flush position now: whatever was committed before (with synchronous_commit on,
   * Postgres' default) is at or below it, and a replica can replay up to it.
   */
  currentLsn(): Promise<bigint>;
  /**
   * For a replica's service path: the replay position it had reached at its last check (what a read
   * there sees at least). null for any other (the primary's: sees everything).
   */
  replayedBy(service: ServiceDb): bigint | null;
  status(): ReplicaStatus[];
  /** Checks every replica now (also done every REPLICA_CHECK_MS once `start` ran). */
  check(): Promise<void>;
  start(): void;
  close(): Promise<void>;
}

/** host:port/database of a URL, for logs, metrics and ops (never its credentials). */
export function replicaName(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

interface Replica {
  name: string;
  db: Database;
  /** One connection of its own for the checks: never falls back to the primary, as db's pools do. */
  checks: pg.Pool;
  state: ReplicaState;
  replay: bigint | null;
  lagSeconds: number | null;
  lagBytes: number | null;
  checkedAt: Date | null;
  error: string | null;
}

/** One sample of the primary's WAL position: when it was read. */
interface Sample {
  at: number;
  lsn: bigint;
}

const replicaCheckSql = `SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn()::text AS replay`;
/**
 * The primary's WAL flush position now: whatever was committed before (with synchronous_commit on,
 * Postgres' default) is at or below it, and a replica can replay up to it. The flush position, not the
 * insert position: on a quiet primary the insert position can point past a page header that replay never
 * reaches, so a caught-up replica would look behind forever.
 */
export async function currentWalLsn(db: Pick<pg.Pool, 'query'>): Promise<bigint> {
  const { rows } = await db.query<{ lsn: string }>(`SELECT pg_current_wal_flush_lsn()::text AS lsn`);
  return parseLsn(rows[0]!.lsn);
}

/**
 * Lag from the primary's samples (oldest first), as an upper bound: 0 when the replica has replayed the
 * newest sample; else the age of the newest sample it has replayed (it has everything the primary had
 * written then). null when it has replayed none of them: behind by more than the samples reach, or the
 * monitor has only just started (the replica counts as lagging until a sample proves otherwise).
 */
export function lagOf(
  samples: readonly Sample[],
  replay: bigint,
  now: number,
): { seconds: number | null; bytes: number } {
  const newest = samples.at(-1);
  if (!newest || replay >= newest.lsn) return { seconds: 0, bytes: 0 };
  const bytes = Number(newest.lsn - replay);
  let reached: Sample | undefined;
  for (const sample of samples) if (sample.lsn <= replay) reached = sample;
  return { seconds: reached ? Math.max(0, now - reached.at) / 1000 : null, bytes };
}

export function createReadRouting(deps: {
  primary: Database;
  /** The primary's URL (the monitor opens a connection of its own there). */
  primaryUrl: string;
  config: Pick<
    Config['database'],
    | 'readUrls'
    | 'replicaMaxLagMs'
    | 'replicaCheckMs'
    | 'role'
    | 'statementTimeoutMs'
    | 'poolMax'
    | 'sessionSettings'
    | 'ivfflatProbes'
  >;
  metrics: Metrics;
  logger: Logger;
}): ReadRouting {
  const { primary, primaryUrl, config, metrics, logger } = deps;
  const replicas: Replica[] = [];
  const markDown = (replica: Replica, error: Error) => {
    if (replica.state !== 'down') {
      logger.warn(
        { err: error, replica: replica.name },
        'read replica unreachable: its reads go to the primary until it answers again',
      );
    }
    replica.state = 'down';
    replica.error = error.message;
    metrics.replicaUp.set({ replica: replica.name }, 0);
  };
  /** One connection for the monitor's checks of a server, never falling back (unlike the replicas' pools). */
  const checkPool = (url: string) =>
    createPool({
      url,
      role: config.role,
      settings: { statement_timeout: Math.max(1000, config.replicaCheckMs) },
      applicationName: 'lodestar-gateway-replica-check',
      max: 1,
      connectionTimeoutMillis: Math.max(1000, config.replicaCheckMs),
      onError: () => undefined,
    });
  // The monitor's own connection to the primary: a busy request pool must not stop the lag from growing.
  const primaryChecks = checkPool(primaryUrl);
  for (const url of config.readUrls) {
    const name = replicaName(url);
    const replica: Replica = {
      name,
      state: 'starting',
      replay: null,
      lagSeconds: null,
      lagBytes: null,
      checkedAt: null,
      error: null,
      db: undefined as unknown as Database, // set right below: the fallback's callback needs `replica`
      checks: checkPool(url),
    };
    replica.db = createDatabase(
      { ...config, url },
      // The message only: pg attaches the whole client (its statements, its settings) to such an error.
      (error) => logger.warn({ replica: name, error: error.message }, 'idle replica connection failed'),
      {
        primary,
        // Server gone, or a read cancelled by replay: either runs again on the primary.
        when: (error) => isConnectionError(error) || isRecoveryConflict(error),
        onFailure: (error) => {
          metrics.dbReads.inc({
            target: 'primary',
            reason: isRecoveryConflict(error) ? 'recovery_conflict' : 'fallback',
          });
          // A conflict is one statement's bad luck, and a pool that could not hand out a client in time
          // is busy (pick() skips it while callers wait): neither means the server is gone.
          if (isConnectionError(error) && !isPoolAcquireTimeout(error)) markDown(replica, error);
        },
      },
    );
    metrics.replicaUp.set({ replica: name }, 0);
    replicas.push(replica);
  }

  // Enough samples to tell a lag of twice the longest a fence lives.
  const windowMs = 2 * fenceTtlMsOf(config);
  const samples: Sample[] = [];
  let turn = 0;
  let checking: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;

  const setState = (replica: Replica, next: ReplicaState, error: string | null) => {
    if ((next === 'ok') !== (replica.state === 'ok') && replica.state !== 'starting') {
      const log = next === 'ok' ? logger.info.bind(logger) : logger.warn.bind(logger);
      log(
        { replica: replica.name, state: next, lagSeconds: replica.lagSeconds, error },
        `read replica ${next === 'ok' ? 'takes reads again' : `skipped: ${next}`}`,
      );
    }
    replica.state = next;
    replica.error = error;
    metrics.replicaUp.set({ replica: replica.name }, next === 'ok' ? 1 : 0);
  };

  const checkOne = async (replica: Replica, now: number) => {
    try {
      const { rows } = await replica.checks.query<{ recovery: boolean; replay: string | null }>(
        replicaCheckSql,
      );
      const row = rows[0];
      replica.checkedAt = new Date();
      if (!row?.recovery) {
        setState(replica, 'promoted', 'not in recovery');
        return;
      }
      if (row.replay === null) {
        setState(replica, 'lagging', 'no WAL replayed yet');
        return;
      }
      replica.replay = parseLsn(row.replay);
      const lag = lagOf(samples, replica.replay, now);
      replica.lagSeconds = lag.seconds;
      replica.lagBytes = lag.bytes;
      // Unknown lag (it has replayed no sample yet) is not known to be small.
      const behind = lag.seconds === null || lag.seconds * 1000 > config.replicaMaxLagMs;
      setState(replica, behind ? 'lagging' : 'ok', null);
      metrics.replicaLagSeconds.set({ replica: replica.name }, lag.seconds ?? -1);
      metrics.replicaLagBytes.set({ replica: replica.name }, lag.bytes);
    } catch (error) {
      markDown(replica, coerceError(error));
      replica.lagSeconds = null;
      replica.lagBytes = null;
      metrics.replicaLagSeconds.set({ replica: replica.name }, -1);
      metrics.replicaLagBytes.set({ replica: replica.name }, -1);
    }
  };

  const checkAll = async () => {
    const now = Date.now();
    try {
      samples.push({ at: now, lsn: await currentWalLsn(primaryChecks) });
      while (samples.length > 1 && samples[0]!.at < now - windowMs) samples.shift();
    } catch (error) {
      logger.debug({ err: coerceError(error) }, 'could not read the primary WAL position');
      // Without the primary's position no lag can be measured: past REPLICA_MAX_LAG_MS without one,
      // no replica is known to be close enough (and the primary is probably unwell anyway).
      const newest = samples.at(-1);
      if (!newest || now - newest.at > config.replicaMaxLagMs) {
        for (const replica of replicas) {
          if (replica.state === 'ok') setState(replica, 'lagging', 'primary WAL position unknown');
        }
      }
      return;
    }
    await Promise.all(replicas.map((replica) => checkOne(replica, now)));
  };

  const routing: ReadRouting = {
    size: replicas.length,
    pick(fence) {
      for (let i = 0; i < replicas.length; i += 1) {
        const replica = replicas[(turn + i) % replicas.length]!;
        if (replica.state !== 'ok' || replica.replay === null) continue;
        if (fence !== null && replica.replay < fence) continue;
        // Callers already queue for its connections: the primary (or another replica) answers sooner.
        if (replica.db.pool.waitingCount > 0) continue;
        turn = (turn + i + 1) % replicas.length;
        return replica.db;
      }
      return null;
    },
    currentLsn: () => currentWalLsn(primary.pool),
    replayedBy(service) {
      const replica = replicas.find((r) => r.db.service === service);
      if (!replica) return null;
      return replica.replay ?? 0n;
    },
    status: () =>
      replicas.map((r) => ({
        name: r.name,
        state: r.state,
        lagSeconds: r.lagSeconds,
        lagBytes: r.lagBytes,
        replayLsn: r.replay === null ? null : formatLsn(r.replay),
        checkedAt: r.checkedAt,
        error: r.error,
      })),
    check() {
      // One check at a time: a slow replica must not pile checks up.
      checking ??= checkAll().finally(() => {
        checking = null;
      });
      return checking;
    },
    start() {
      if (timer || replicas.length === 0) return;
      timer = setInterval(() => void routing.check(), config.replicaCheckMs);
      timer.unref();
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = null;
      await checking;
      await Promise.all([
        primaryChecks.end(),
        ...replicas.flatMap((replica) => [replica.db.close(), replica.checks.end()]),
      ]);
    },
  };
  return routing;
}
