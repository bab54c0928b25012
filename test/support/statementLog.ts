import pg from 'pg';

type Query = (...args: unknown[]) => unknown;

/** Transaction control is overhead, not a data statement. */
export const transactionControl = /^\s*(BEGIN|COMMIT|ROLLBACK)\b/i;

/**
 * Records every statement any pg client sends (the gateway's pool, Prisma's adapter and the service
 * path's own pool all go through Client.prototype.query), while `recording` is on.
 */
export function recordAllClients(): { statements: string[]; recording: boolean; restore: () => void } {
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  const log = {
    statements: [] as string[],
    recording: false,
    restore: () => {
      proto.query = original;
    },
  };
  proto.query = function (this: unknown, ...args: unknown[]): unknown {
    if (log.recording) {
      const first = args[0];
      const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
      log.statements.push(typeof text === 'string' ? text : '<non-text query>');
    }
    return Reflect.apply(original, this, args);
  };
  return log;
}

/**
 * The data statements (transaction control left out) any client sent while `run` ran, with its result:
 * `log` records only meanwhile.
 */
export async function dataStatementsOf<T>(
  log: ReturnType<typeof recordAllClients>,
  run: () => Promise<T>,
): Promise<{ result: T; statements: string[] }> {
  log.statements.length = 0;
  log.recording = true;
  try {
    const result = await run();
    return { result, statements: log.statements.filter((s) => !transactionControl.test(s)) };
  } finally {
    log.recording = false;
  }
}
