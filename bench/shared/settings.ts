/** Bench knobs, read once from the environment (all optional). */

export interface BenchSettings {
  /** Admin URL of the Postgres server; the bench uses its own database `lodestar_bench` on it. */
  adminUrl: string;
  /** The bench database as its owner: migrations, seeding, setup and assertions. */
  benchUrl: string;
  /**
   * The bench database as the processes log in in production (docs/security.md "Login roles in
   * production"): a LOGIN role that is only a member of lodestar_app (gateways) or lodestar_worker
   * (workers). A production gateway refuses a superuser login.
   */
  gatewayUrl: string;
  workerUrl: string;
  /** Measured seconds per (path × concurrency) run. */
  durationSec: number;
  /** Unmeasured seconds before each run: JIT, plan caches, pool connections. */
  warmupSec: number;
  /**
   * The feed phase: rounds the gateway and the bare vector search alternate in at each concurrency
   * (durationSec each in all, in slices of durationSec / feedRounds); their ratios are medians of slices.
   */
  feedRounds: number;
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
  /**
   * Which parts run: `feed` (gateway vs raw SQL, statements, RSS), `features` (feature store modes),
   * `likes` (likeListing with and without idempotency key and rate limits), `workers` (queue worker
   * processes draining events_queue, and queue age at a steady enqueue rate), `validation`, and
   * `embedded` (the embedded default's feed with its in-process worker idle vs busy), and `reads`
   * (five anonymous reads on the gateway vs PostGraphile 4.14).
   */
  phases: ReadonlySet<BenchPhase>;
  /** The features phase: viewers (and so stable pages) it rotates through. */
  featuresViewers: number;
  /** The features phase's concurrencies: always 1, plus this one when above 1. */
  featuresConcurrencies: number[];
  /** The likes phase's concurrencies: always 1, plus this one when above 1. */
  likesConcurrencies: number[];
  /** The workers phase: events_queue items each drain run starts with (the 50,000). */
  workersItems: number;
  /** The workers phase: measured seconds of the steady-rate run (after the warm-up). */
  workersSteadySec: number;
  /**
   * The embedded phase (the gateway on PGlite with the worker in its process): interleaved rounds,
   * seconds per slice, the busy load's writes per second, and its concurrency besides 1.
   */
  embedded: {
    rounds: number;
    sliceSec: number;
    writesPerSec: number;
    concurrency: number;
    /** false: the same run with WORKER_IN_PROCESS=false, the control (the writes' own cost, no worker). */
    worker: boolean;
  };
  /** The reads phase: interleaved rounds (at least 5 for the medians) and seconds per slice. */
  reads: { rounds: number; sliceSec: number };
  /**
   * The scale phase: which sizes (of 10k, 100k, 1m), interleaved rounds and seconds per slice, the
   * viewers whose profile embeddings the recall is measured on, the ivfflat probes and HNSW ef_search
   * values tried, and the largest table an HNSW index is built for.
   */
  scale: {
    sizes: string[];
    rounds: number;
    sliceSec: number;
    recallSamples: number;
    probes: number[];
    efSearch: number[];
    hnswMaxRows: number;
    /** Seconds the co-engagement rebuild is timed for at most (it takes hours at 1M): the rest extrapolated. */
    coengagementBudgetSec: number;
    /**
     * `load` (co-engagement, the gateways and the bare ANN runs) and/or `index` (copies, builds,
     * recall): one alone prepares a size's expensive, reused parts in a process of its own.
     */
    steps: string[];
  };
}

export const BENCH_PHASES = [
  'feed',
  'features',
  'likes',
  'workers',
  'validation',
  'embedded',
  'reads',
  'scale',
] as const;
export type BenchPhase = (typeof BENCH_PHASES)[number];
/**
 * What an empty BENCH_PHASES runs: every phase but `scale`, which seeds and indexes a 1M-listing
 * database of its own (tens of minutes the first time) and so only runs when asked for by name.
 */
export const DEFAULT_BENCH_PHASES: readonly BenchPhase[] = BENCH_PHASES.filter((phase) => phase !== 'scale');

export const BENCH_DATABASE = 'lodestar_bench';
/** The gateway's REDIS_KEY_PREFIX in every bench process, so the bench's keys never mix with others'. */
export const BENCH_REDIS_PREFIX = 'lodestar-bench:';

function number(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${key} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** A comma-separated subset of `allowed`, in the order given. */
function list(env: NodeJS.ProcessEnv, key: string, fallback: string[], allowed: string[]): string[] {
  const raw = (env[key] ?? '').trim();
  if (raw === '') return fallback;
  const values = raw.split(',').map((v) => v.trim().toLowerCase());
  if (values.some((v) => !allowed.includes(v))) {
    throw new Error(`${key} must be a comma-separated list of ${allowed.join(', ')}, got "${raw}"`);
  }
  return [...new Set(values)];
}

/** A comma-separated list of whole numbers from 1 to 10000. */
function numbers(env: NodeJS.ProcessEnv, key: string, fallback: number[]): number[] {
  const raw = (env[key] ?? '').trim();
  if (raw === '') return fallback;
  const values = raw.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1 || v > 10_000)) {
    throw new Error(`${key} must be a comma-separated list of whole numbers from 1 to 10000, got "${raw}"`);
  }
  return values;
}

const flag = (env: NodeJS.ProcessEnv, key: string) => /^(1|true|yes)$/i.test(env[key] ?? '');

function phases(env: NodeJS.ProcessEnv): Set<BenchPhase> {
  const raw = (env.BENCH_PHASES ?? '').trim();
  if (raw === '') return new Set(DEFAULT_BENCH_PHASES);
  const names = raw.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(BENCH_PHASES as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(
      `BENCH_PHASES must be a comma-separated list of ${BENCH_PHASES.join(', ')}, got "${raw}"`,
    );
  }
  return new Set(names as BenchPhase[]);
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const featuresHighC = number(env, 'BENCH_FEATURES_CONCURRENCY', 4, 1, 64);
  const likesHighC = number(env, 'BENCH_LIKES_CONCURRENCY', 16, 1, 64);
  const adminUrl = env.BENCH_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
  const bench = new URL(adminUrl);
  bench.pathname = `/${BENCH_DATABASE}`;
  return {
    adminUrl,
    benchUrl: bench.toString(),
    gatewayUrl: asLogin(bench.toString(), BENCH_GATEWAY_LOGIN),
    workerUrl: asLogin(bench.toString(), BENCH_WORKER_LOGIN),
    durationSec: number(env, 'BENCH_DURATION_SEC', 10, 1, 120),
    warmupSec: number(env, 'BENCH_WARMUP_SEC', 2, 0, 60),
    feedRounds: number(env, 'BENCH_FEED_ROUNDS', 5, 1, 50),
    concurrencies: [1, number(env, 'BENCH_CONCURRENCY', 16, 2, 256)],
    viewers: number(env, 'BENCH_VIEWERS', 300, 1, 20_000),
    skipSeed: flag(env, 'BENCH_SKIP_SEED'),
    reseed: flag(env, 'BENCH_RESEED'),
    redisUrl: /^(off|none)$/i.test(env.BENCH_REDIS_URL ?? '')
      ? null
      : env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    skipBuild: flag(env, 'BENCH_SKIP_BUILD'),
    dataset: { users: 20_000, listings: 100_000, interests: 400, categories: 12, seed: 42 },
    phases: phases(env),
    featuresViewers: number(env, 'BENCH_FEATURES_VIEWERS', 100, 1, 20_000),
    featuresConcurrencies: featuresHighC > 1 ? [1, featuresHighC] : [1],
    likesConcurrencies: likesHighC > 1 ? [1, likesHighC] : [1],
    workersItems: number(env, 'BENCH_WORKERS_ITEMS', 50_000, 1000, 1_000_000),
    workersSteadySec: number(env, 'BENCH_WORKERS_STEADY_SEC', 20, 5, 300),
    embedded: {
      rounds: number(env, 'BENCH_EMBEDDED_ROUNDS', 6, 1, 50),
      sliceSec: number(env, 'BENCH_EMBEDDED_SLICE_SEC', 5, 1, 60),
      writesPerSec: number(env, 'BENCH_EMBEDDED_WRITES_PER_SEC', 5, 1, 500),
      concurrency: number(env, 'BENCH_EMBEDDED_CONCURRENCY', 4, 2, 64),
      worker: !/^(0|false|no)$/i.test(env.BENCH_EMBEDDED_WORKER ?? ''),
    },
    reads: {
      rounds: number(env, 'BENCH_READS_ROUNDS', 5, 1, 50),
      sliceSec: number(env, 'BENCH_READS_SLICE_SEC', 2, 1, 60),
    },
    scale: {
      sizes: list(env, 'BENCH_SCALE_SIZES', ['10k', '100k', '1m'], ['10k', '100k', '1m']),
      rounds: number(env, 'BENCH_SCALE_ROUNDS', 3, 1, 50),
      sliceSec: number(env, 'BENCH_SCALE_SLICE_SEC', 3, 1, 60),
      recallSamples: number(env, 'BENCH_SCALE_RECALL_SAMPLES', 200, 10, 5000),
      probes: numbers(env, 'BENCH_SCALE_PROBES', [1, 5, 10, 20, 40, 80]),
      efSearch: numbers(env, 'BENCH_SCALE_EF_SEARCH', [40, 100, 200, 400, 800]),
      hnswMaxRows: number(env, 'BENCH_SCALE_HNSW_MAX_ROWS', 1_000_000, 0, 100_000_000),
      coengagementBudgetSec: number(env, 'BENCH_SCALE_COENGAGEMENT_MAX_SEC', 300, 10, 86_400),
      steps: list(env, 'BENCH_SCALE_STEPS', ['load', 'index'], ['load', 'index']),
    },
  };
}

/** LOGIN roles the bench's gateway and worker processes connect as (created by ensureBenchLogins). */
export const BENCH_GATEWAY_LOGIN = 'lodestar_bench_gateway';
export const BENCH_WORKER_LOGIN = 'lodestar_bench_worker';

/** The same database as another login role (no password: the bench server trusts local logins). */
export function asLogin(url: string, login: string): string {
  const parsed = new URL(url);
  parsed.username = login;
  parsed.password = '';
  return parsed.toString();
}

/** The URL without its password, safe to print. */
export function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/**
 * Settings of a gateway whose statements are counted: its timed background reads and writes (the
 * experiment and flag re-reads, the telemetry flush) must not land inside a counted request.
 */
export const COUNTING_ENV = {
  FEED_EXPERIMENT_REFRESH_SEC: '3600',
  FLAGS_REFRESH_SEC: '3600',
  TELEMETRY_FLUSH_MS: '60000',
} as const;

/** Fixed so tokens signed here verify in the gateway; HS256 needs 32+ characters. */
export const BENCH_JWT_SECRET = 'lodestar-bench-only-jwt-secret-0123456789';

/**
 * The gateway's whole environment: production settings (no IDE, no introspection, no demo data),
 * quiet logs, the bench database (already migrated by prepareBenchDatabase) and Redis under a key
 * prefix of its own. The port is added per process.
 */
export function gatewayEnv(settings: BenchSettings): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATABASE_URL: settings.gatewayUrl,
    MIGRATE_ON_START: 'false',
    JWT_SECRET: BENCH_JWT_SECRET,
    // The load phases measure throughput from one address and a few hundred viewers: the per-client
    // read budgets (docs/security.md) at their ceiling, so they never refuse. Write limits stay as set.
    RATE_LIMIT_READS_PER_MIN: '1000000',
    RATE_LIMIT_FEED_PER_MIN: '100000',
    ...(settings.redisUrl ? { REDIS_URL: settings.redisUrl, REDIS_KEY_PREFIX: BENCH_REDIS_PREFIX } : {}),
  };
}
