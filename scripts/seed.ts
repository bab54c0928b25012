/**
 * npm run db:seed -- --users N --listings N --interests N --seed S [--reset]
 *
 * Fills a migrated database with deterministic synthetic data. Exit codes: 0 seeded, 1 the seed
 * failed (database problem), 2 bad command line.
 */
import pg from 'pg';
import { DEMO_ACCOUNTS } from '../src/db/seed/generateUsers.js';
import { seedDatabase } from '../src/db/seed/seedDatabase.js';
import type { SeedProgress } from '../src/db/seed/seedDatabase.js';
import { SeedError } from '../src/db/seed/SeedError.js';
import {
  DEFAULT_AS_OF,
  DEFAULT_SEED_OPTIONS,
  SEED_LIMITS,
  validateSeedOptions,
} from '../src/db/seed/seedOptions.js';
import type { SeedOptions } from '../src/db/seed/seedOptions.js';
import { redactUrl } from '../src/db/redactUrl.js';

const DEFAULT_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

const HELP = `Usage: npm run db:seed -- [options]

Fills a migrated database with a deterministic synthetic marketplace. The same options always
produce byte-identical rows (ids, UUIDs, text, vectors, timestamps).

Options:
  --users N          profiles to create (default ${DEFAULT_SEED_OPTIONS.users}; ${SEED_LIMITS.users.min}-${SEED_LIMITS.users.max})
  --listings N       marketplace listings (default ${DEFAULT_SEED_OPTIONS.listings}; ${SEED_LIMITS.listings.min}-${SEED_LIMITS.listings.max})
  --interests N      interest catalog entries, at least --categories (default ${DEFAULT_SEED_OPTIONS.interests})
  --categories N     categories (default ${DEFAULT_SEED_OPTIONS.categories}; real names, suffixed -2, -3 past 20)
  --seed S           PRNG seed, 0-${SEED_LIMITS.seed.max} (default ${DEFAULT_SEED_OPTIONS.seed})
  --as-of WHEN       "now" every timestamp is relative to: an ISO date, or "now" for the real clock
                     (default ${DEFAULT_AS_OF.toISOString()}, fixed so reruns stay identical)
  --database-url URL default: $MIGRATION_DATABASE_URL, else $DATABASE_URL, else ${DEFAULT_URL}
  --reset            replace existing data: TRUNCATE the seeded tables (categories, interest_catalog,
                     profiles, user_interests, marketplace_listings, likes, comments, follows,
                     intent_signals) RESTART IDENTITY CASCADE, which also empties learning_events,
                     interest_listing_candidates and marketplace_discovery_queue.
                     Without --reset, a database that has rows in any seeded table is left alone.
  -h, --help         show this help

Demo accounts: handle "admin" (role admin) and handle "demo" (role user) are always users #1 and #2.
The seed runs in one transaction; it must connect as the table owner (the migration role).`;

class UsageError extends Error {}

const COUNT_FLAGS = ['users', 'listings', 'interests', 'categories', 'seed'] as const;
type CountFlag = (typeof COUNT_FLAGS)[number];
const VALUE_FLAGS = new Set<string>([...COUNT_FLAGS, 'database-url', 'as-of']);
const SWITCHES = new Set<string>(['reset', 'help']);

interface CliArgs {
  options: SeedOptions;
  databaseUrl: string;
  help: boolean;
}

function parseCount(flag: CountFlag, raw: string): number {
  const { min, max } = SEED_LIMITS[flag];
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function parseAsOf(raw: string): Date {
  const date = raw === 'now' ? new Date() : new Date(raw);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(`--as-of must be an ISO date like 2026-11-28T00:00:00Z or "now", got "${raw}"`);
  }
  return date;
}

function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliArgs {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '-h') {
      switches.add('help');
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (match === null) throw new UsageError(`unexpected argument "${arg}": options look like --users 200`);
    const name = match[1] ?? '';
    if (SWITCHES.has(name)) {
      if (match[2] !== undefined) throw new UsageError(`--${name} takes no value, got "${arg}"`);
      switches.add(name);
    } else if (VALUE_FLAGS.has(name)) {
      const value = match[2] ?? argv[i + 1];
      if (match[2] === undefined) i += 1;
      if (value === undefined || (match[2] === undefined && value.startsWith('--'))) {
        throw new UsageError(
          `--${name} needs a value, e.g. --${name} ${name === 'database-url' ? 'URL' : '100'}`,
        );
      }
      if (values.has(name)) throw new UsageError(`--${name} was given twice; pass it once`);
      values.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}; run with --help to see the options`);
    }
  }

  const count = (flag: CountFlag): number => {
    const raw = values.get(flag);
    return raw === undefined ? DEFAULT_SEED_OPTIONS[flag] : parseCount(flag, raw);
  };
  const asOf = values.get('as-of');
  const options: SeedOptions = {
    users: count('users'),
    listings: count('listings'),
    interests: count('interests'),
    categories: count('categories'),
    seed: count('seed'),
    reset: switches.has('reset'),
    ...(asOf === undefined ? {} : { asOf: parseAsOf(asOf) }),
  };
  const problem = validateSeedOptions(options, (key) => `--${key}`)[0];
  if (problem !== undefined) throw new UsageError(problem);
  const databaseUrl =
    values.get('database-url') || env.MIGRATION_DATABASE_URL || env.DATABASE_URL || DEFAULT_URL;
  return { options, databaseUrl, help: switches.has('help') };
}

function printProgress(p: SeedProgress): void {
  const rows = p.rows === undefined ? '' : `${p.rows.toLocaleString('en-US')} rows`;
  const detail = [rows, p.note ?? ''].filter((s) => s !== '').join(', ');
  console.error(
    `seed: ${p.phase.padEnd(20)} ${detail.padEnd(34)} ${String(p.elapsedMs).padStart(7)} ms` +
      `  (total ${(p.totalElapsedMs / 1000).toFixed(1)} s)`,
  );
}

async function main(): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`db:seed: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }

  const { options } = args;
  const client = new pg.Client({ connectionString: args.databaseUrl, application_name: 'lodestar-seed' });
  try {
    await client.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.error(`db:seed: cannot connect to ${redactUrl(args.databaseUrl)}: ${reason}`);
    return 1;
  }
  console.error(
    `seed: ${options.users} users, ${options.listings} listings, ${options.interests} interests, ` +
      `${options.categories} categories, seed ${options.seed} -> ${redactUrl(args.databaseUrl)}`,
  );
  try {
    const summary = await seedDatabase(client, options, printProgress);
    const counts = Object.entries(summary.rows)
      .map(([table, n]) => `${table} ${n.toLocaleString('en-US')}`)
      .join(', ');
    console.log(`seeded in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${counts}`);
    const demo = DEMO_ACCOUNTS.slice(0, options.users).map((a) => `${a.handle} (${a.role})`);
    console.log(`demo logins: ${demo.join(', ')}`);
    return 0;
  } catch (error) {
    if (error instanceof SeedError) {
      console.error(`db:seed: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await client.end();
  }
}

process.exitCode = await main();
