/** Bench knobs, read once from the environment (all optional). */

export interface BenchSettings {
  /** Admin URL of the Postgres server; the bench uses its own database `lodestar_bench` on it. */
  adminUrl: string;
  benchUrl: string;
  /** Measured seconds per (path × concurrency) run. */
  durationSec: number;
  /** Unmeasured seconds before each run: JIT, plan caches, pool connections. */
  warmupSec: number;
  concurrencies: [number, number];
  /** Signed-in viewers (with profile embeddings) the requests rotate through. */
  viewers: number;
  /** Use lodestar_bench as it is (only pending migrations are applied), whatever its size. */
  skipSeed: boolean;
  /** Drop and re-seed lodestar_bench even if it could be reused. */
  reseed: boolean;
  /** The gateway's REDIS_URL (keys under `lodestar-bench:`); null runs it without Redis (degraded mode). */
  redisUrl: string | null;
  /** Start the gateway from dist/ as it is instead of running `npm run build` first. */
  skipBuild: boolean;
  dataset: { users: number; listings: number; interests: number; categories: number; seed: number };
}

export const BENCH_DATABASE = 'lodestar_bench';

function number(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${key} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

const flag = (env: NodeJS.ProcessEnv, key: string) => /^(1|true|yes)$/i.test(env[key] ?? '');

export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const adminUrl = env.BENCH_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
  const bench = new URL(adminUrl);
  bench.pathname = `/${BENCH_DATABASE}`;
  return {
    adminUrl,
    benchUrl: bench.toString(),
    durationSec: number(env, 'BENCH_DURATION_SEC', 10, 1, 120),
    warmupSec: number(env, 'BENCH_WARMUP_SEC', 2, 0, 60),
    concurrencies: [1, number(env, 'BENCH_CONCURRENCY', 16, 2, 256)],
    viewers: number(env, 'BENCH_VIEWERS', 300, 1, 20_000),
    skipSeed: flag(env, 'BENCH_SKIP_SEED'),
    reseed: flag(env, 'BENCH_RESEED'),
    redisUrl: /^(off|none)$/i.test(env.BENCH_REDIS_URL ?? '')
      ? null
      : env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    skipBuild: flag(env, 'BENCH_SKIP_BUILD'),
    dataset: { users: 20_000, listings: 100_000, interests: 400, categories: 12, seed: 42 },
  };
}

/** The URL without its password, safe to print. */
export function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
