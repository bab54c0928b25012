import pg from 'pg';

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
  });
  pool.on('error', options.onError);
  return pool;
}
