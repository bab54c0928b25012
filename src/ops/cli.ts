// npm run ops -- <action> [--name value ...]: the ops console's actions from a shell or cron, with the
// same argument rules and the same ops_audit rows as the GraphQL mutations.
import os from 'node:os';
import { openOpsPool } from '../services/connections.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { coerceError } from '../errors/errors.js';
import { isOpsActionName, opsActions, runOpsAction } from './actions.js';
import { evaluateAlerts } from './alerts.js';
import { createOpsRunner } from './opsRunner.js';

const usage = `usage: npm run ops -- <action> [--name value ...]
       npm run ops -- list            the actions and their arguments
       npm run ops -- alerts          evaluate the runbook's alerts now (exit 3 when a critical one fires)
Arguments are --name value (or --name for true); nested ones use dots: --thresholds.maxErrorRate 0.05.
The result is printed as JSON; every action is recorded in ops_audit as actor_role 'cli'.`;

export class UsageError extends Error {}

/** `--a 1 --b.c x --flag` → { a: '1', b: { c: 'x' }, flag: true }; values stay strings (the schema coerces). */
export function parseArgs(argv: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i] ?? '';
    if (!token.startsWith('--') || token.length < 3) throw new UsageError(`expected --name, got "${token}"`);
    const body = token.slice(2);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    const path = name.split('.');
    // Plain names only: nothing like __proto__ can reach an object's prototype.
    if (!path.every((part) => /^[A-Za-z][A-Za-z0-9]*$/.test(part))) {
      throw new UsageError(`"--${name}" is not an argument name (letters and digits, nested with dots)`);
    }
    let value: unknown = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) value = true;
      else {
        value = next;
        i += 1;
      }
    }
    let target = args;
    for (const part of path.slice(0, -1)) {
      const child = target[part];
      target[part] = typeof child === 'object' && child !== null ? child : {};
      target = target[part] as Record<string, unknown>;
    }
    target[path.at(-1) ?? name] = value;
  }
  return args;
}

function describeActions(): string {
  return Object.entries(opsActions)
    .map(([name, action]) => {
      const shape = 'shape' in action.args ? Object.keys(action.args.shape) : [];
      return `${name}${shape.length ? ` [${shape.map((s) => `--${s}`).join(' ')}]` : ''}\n    ${action.description}`;
    })
    .join('\n');
}

/** Runs one CLI command; returns the exit code. */
export async function runCli(
  argv: readonly string[],
  config: Config,
  out: (line: string) => void,
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    out(usage);
    return command ? 0 : 2;
  }
  if (command === 'list') {
    out(describeActions());
    return 0;
  }
  const url = config.worker.databaseUrl;
  if (!url) throw new UsageError('set WORKER_DATABASE_URL, MIGRATION_DATABASE_URL or DATABASE_URL');
  const pool = openOpsPool(config);
  try {
    if (command === 'alerts') {
      const alerts = await evaluateAlerts(pool, config.ops.alerts);
      out(JSON.stringify(alerts, null, 2));
      return alerts.some((a) => a.firing && a.severity === 'critical') ? 3 : 0;
    }
    if (!isOpsActionName(command))
      throw new UsageError(`unknown action "${command}"; run \`npm run ops -- list\``);
    const user = (() => {
      try {
        return os.userInfo().username;
      } catch {
        return 'unknown';
      }
    })();
    const { result, auditId, durationMs } = await runOpsAction(
      createOpsRunner(config, {
        pool,
        actor: { id: null, role: 'cli', requestId: `cli:${user}@${os.hostname()}` },
        ownerUrl: url,
      }),
      command,
      parseArgs(rest),
    );
    out(JSON.stringify({ action: command, auditId, durationMs: Math.round(durationMs), result }, null, 2));
    return 0;
  } finally {
    await pool.end();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));
if (isMain) {
  try {
    const config = loadConfig(process.env, 'worker');
    process.exitCode = await runCli(process.argv.slice(2), config, (line) =>
      process.stdout.write(`${line}\n`),
    );
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError) {
      process.stderr.write(
        `lodestar ops: ${error.message}\n${error instanceof UsageError ? `${usage}\n` : ''}`,
      );
      process.exitCode = 2;
    } else {
      const failure = coerceError(error);
      // Coded errors (BAD_USER_INPUT, NOT_FOUND…) carry a message written for the caller.
      const code = (failure as { extensions?: { code?: unknown } }).extensions?.code;
      const prefix = typeof code === 'string' ? `${code}: ` : '';
      process.stderr.write(`lodestar ops: ${prefix}${failure.message}\n`);
      process.exitCode = code === 'BAD_USER_INPUT' ? 2 : 1;
    }
  }
}
