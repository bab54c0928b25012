import pg from 'pg';
import { lodestarTypes } from './pgTypes.js';

export interface PoolOptions {
  /** The connection string (login role, host, database). */
  url: string;
  /** The role every session switches to (`-c role=…`), so RLS applies even when the login could bypass it. Omitted: the login role. */
  role?: string;
  /** Other session settings, each sent as `-c key=value` at connect (statement_timeout, lodestar.role, ivfflat.*). */
  settings?: Readonly<Record<string, string | number>>;
  /** Shown in pg_stat_activity: which process and path a connection belongs to. */
  applicationName: string;
  max: number;
  /** Set for pools that serve requests (fail fast rather than queue); omitted: pg's defaults. */
  connectionTimeoutMillis?: number;
  idleTimeoutMillis?: number;
  /** An idle client losing its server connection must not end the process with an unhandled 'error'. */
  onError: (error: Error) => void;
  /**
   * Send NamedStatements (below) as named prepared statements: each connection parses and plans them
   * once instead of on every call. Off for the embedded database, whose connections share one session
   * (a name prepared by one would collide on the next).
   */
  prepare?: boolean;
  /**
   * A read replica's pool: a connection it cannot open (the server is down or unreachable, as
   * `fallback.when` decides) is taken from `fallback.pool` (the primary's) instead, after
   * `fallback.onFailure` is told, so a dead replica costs its callers no error. Both pool.connect and
   * pool.query (which connects through it) fall back; a statement that fails on an open connection does not.
   */
  fallback?: {
    pool: pg.Pool;
    when: (error: unknown) => boolean;
    onFailure: (error: Error) => void;
  };
}

/**
 * A hot read the gateway sends as a named prepared statement (on pools created with `prepare`): the
 * server parses it once per connection and, after five executions, may keep a generic plan. Only for
 * statements whose plan does not depend on their parameters' values (key lookups, keyset pages). The
 * service path (src/db/service.ts) names its own statements: the feed's candidate statement (planned per
 * call), its cached read (on generic-plan sessions) and the impressions insert.
 */
export interface NamedStatement {
  readonly name: string;
  readonly text: string;
}

const statementNames = new Map<string, string>();

/** Declares a named statement; a name is one text (pg refuses a second text under a prepared name). */
export function namedStatement(name: string, text: string): NamedStatement {
  const full = `lodestar_${name}`;
  const existing = statementNames.get(full);
  if (existing !== undefined && existing !== text) throw new Error(`statement name ${full} is taken`);
  statementNames.set(full, text);
  return { name: full, text };
}

const preparingPools = new WeakSet<pg.Pool>();

/** The query to send on `pool` (or a client of it): named when the pool prepares, else plain. */
export function statementConfig(
  pool: pg.Pool,
  statement: string | NamedStatement,
  values: unknown[],
): pg.QueryConfig {
  if (typeof statement === 'string') return { text: statement, values };
  return preparingPools.has(pool)
    ? { name: statement.name, text: statement.text, values }
    : { text: statement.text, values };
}

/** The startup `options` string: any `options` the URL already carries, then the role, then the settings. */
export function sessionOptions(
  url: string,
  role: string | undefined,
  settings: PoolOptions['settings'],
): string {
  const existing = new URL(url).searchParams.get('options') ?? '';
  const ours = [
    ...(role ? [`-c role=${role}`] : []),
    ...Object.entries(settings ?? {}).map(([key, value]) => `-c ${key}=${value}`),
  ];
  return [existing, ...ours].filter(Boolean).join(' ');
}

const viaFallback = new WeakSet<pg.PoolClient>();

/** Whether a replica pool's connect handed out this client from its fallback (the primary's pool). */
export function servedByFallback(client: pg.PoolClient): boolean {
  return viaFallback.has(client);
}

/** A replica pool's fallback (the primary's pool and when to use it); null for any other pool. */
export function fallbackOf(pool: pg.Pool): NonNullable<PoolOptions['fallback']> | null {
  return pool instanceof FallbackPool ? pool.fallback : null;
}

type ConnectCallback = (error: Error | undefined, client?: pg.PoolClient, done?: () => void) => void;

/**
 * pg.Pool whose failed connects are served by another pool (PoolOptions.fallback), as are its
 * `query` calls (promise form) that fail because the server went away mid-statement: only reads run on
 * a replica's pool, so running one again is safe. withClient (src/db/checkout.ts) does the same for a
 * checked-out client's work (`fallbackOf`).
 */
class FallbackPool extends pg.Pool {
  readonly fallback: NonNullable<PoolOptions['fallback']>;

  constructor(config: pg.PoolConfig, fallback: NonNullable<PoolOptions['fallback']>) {
    super(config);
    this.fallback = fallback;
  }

  // Every overload of pg's query funnels here; the callback form (pg's own internals) is passed through.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's query has a dozen overloads; the arguments are forwarded untouched
  override query(...input: any[]): any {
    const args: unknown[] = input;
    if (args.some((arg) => typeof arg === 'function')) {
      return (super.query.bind(this) as (...a: unknown[]) => unknown)(...args);
    }
    return this.#queryOrFallBack(args);
  }

  /** pg's pool.query (a client for one statement, released with its error), run again on the fallback. */
  async #queryOrFallBack(args: unknown[]): Promise<unknown> {
    const client = await this.connect();
    let failure: Error | undefined;
    const onError = (error: Error) => (failure ??= error);
    client.on('error', onError);
    try {
      return await (client.query.bind(client) as (...a: unknown[]) => Promise<unknown>)(...args);
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error));
      const { pool, when, onFailure } = this.fallback;
      // A client the fallback already served failed there: the primary's own error, not the replica's.
      if (servedByFallback(client) || !when(error)) throw error;
      onFailure(failure);
      return (pool.query.bind(pool) as (...a: unknown[]) => Promise<unknown>)(...args);
    } finally {
      client.removeListener('error', onError);
      client.release(failure);
    }
  }

  // pg's Pool.query connects through this.connect(callback): overriding both forms covers every caller.
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    const { pool, when, onFailure } = this.fallback;
    if (callback) {
      super.connect((error: Error | undefined, client?: pg.PoolClient, done?: () => void) => {
        if (error && when(error)) {
          onFailure(error);
          pool.connect((fallbackError, fallbackClient, fallbackDone) => {
            if (fallbackClient) viaFallback.add(fallbackClient);
            callback(fallbackError ?? undefined, fallbackClient, fallbackDone);
          });
          return;
        }
        callback(error, client, done);
      });
      return;
    }
    return super.connect().catch((error: unknown) => {
      if (!when(error)) throw error;
      onFailure(error instanceof Error ? error : new Error(String(error)));
      return pool.connect().then((client) => {
        viaFallback.add(client);
        return client;
      });
    });
  }
}

/** The one way Lodestar builds a pg.Pool: gateway, service path, worker and ops CLI. */
export function createPool(options: PoolOptions): pg.Pool {
  const startup = sessionOptions(options.url, options.role, options.settings);
  const config: pg.PoolConfig = {
    connectionString: options.url,
    ...(startup ? { options: startup } : {}),
    max: options.max,
    ...(options.connectionTimeoutMillis === undefined
      ? {}
      : { connectionTimeoutMillis: options.connectionTimeoutMillis }),
    ...(options.idleTimeoutMillis === undefined ? {} : { idleTimeoutMillis: options.idleTimeoutMillis }),
    application_name: options.applicationName,
    types: lodestarTypes,
  };
  const pool = options.fallback ? new FallbackPool(config, options.fallback) : new pg.Pool(config);
  pool.on('error', options.onError);
  if (options.prepare === true) preparingPools.add(pool);
  return pool;
}
