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

/** The one way Lodestar builds a pg.Pool: gateway, service path, worker and ops CLI. */
export function createPool(options: PoolOptions): pg.Pool {
  const startup = sessionOptions(options.url, options.role, options.settings);
  const pool = new pg.Pool({
    connectionString: options.url,
    ...(startup ? { options: startup } : {}),
    max: options.max,
    ...(options.connectionTimeoutMillis === undefined
      ? {}
      : { connectionTimeoutMillis: options.connectionTimeoutMillis }),
    ...(options.idleTimeoutMillis === undefined ? {} : { idleTimeoutMillis: options.idleTimeoutMillis }),
    application_name: options.applicationName,
    types: lodestarTypes,
  });
  pool.on('error', options.onError);
  if (options.prepare === true) preparingPools.add(pool);
  return pool;
}
