import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A problem the person running the evaluation must fix (bad flags, a busy template, no Postgres). */
export class EvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationError';
  }
}

export interface ScratchDatabase {
  name: string;
  /** The scratch database's URL: the server's URL (same login) with the scratch name. */
  url: string;
  drop: () => Promise<void>;
}

/** The URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (name === '') throw new EvaluationError(`${new URL(url).host}: the URL names no database`);
  return name;
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Runs `fn` on a connection to the server's maintenance database (`postgres`), never to the template. */
async function withMaintenance<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: withDatabase(serverUrl, 'postgres'),
    application_name: 'lodestar-eval',
  });
  // A lost connection fails the statement in progress; the event itself must not end the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    // The caller's setup, not a fault of the run: no server there, a wrong login, a missing database.
    await client.end().catch(() => undefined);
    const { code, message } = error as { code?: string; message?: string };
    throw new EvaluationError(
      `cannot connect to Postgres at ${new URL(serverUrl).host} (${[code, message].filter(Boolean).join(': ')}); ` +
        'the harness creates its scratch database on the server of --database-url (else of ' +
        'MIGRATION_DATABASE_URL, DATABASE_URL or --from-database)',
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A new, randomly named database on the server of `serverUrl` (empty, or a copy of `template`), for
 * one evaluation run. CREATE DATABASE … TEMPLATE needs the template idle: a template with sessions is
 * an EvaluationError that says so.
 */
export async function createScratchDatabase(
  serverUrl: string,
  template: string | null,
): Promise<ScratchDatabase> {
  const name = `lodestar_eval_${randomBytes(5).toString('hex')}`;
  await withMaintenance(serverUrl, async (client) => {
    try {
      await client.query(
        `CREATE DATABASE ${quoteIdent(name)}${template === null ? '' : ` TEMPLATE ${quoteIdent(template)}`}`,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (template !== null && /being accessed by other users/.test(message)) {
        throw new EvaluationError(
          `--from-database: "${template}" has open sessions, and Postgres copies only an idle database ` +
            '(CREATE DATABASE … TEMPLATE). Stop the gateway and the worker (and close psql sessions) on it, or ' +
            'copy it first (createdb -T) and evaluate the copy.',
        );
      }
      if (template !== null && /does not exist/.test(message))
        throw new EvaluationError(`--from-database: database "${template}" does not exist`);
      if ((error as { code?: string }).code === '42501')
        throw new EvaluationError(
          `${message}: the harness's login must be allowed to CREATE DATABASE (the migration role or postgres)`,
        );
      throw error;
    }
  });
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop: () =>
      withMaintenance(serverUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      }),
  };
}
