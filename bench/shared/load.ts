/**
 * A closed-loop load generator: N workers, each issuing one request at a time for a fixed duration.
 * Both paths (HTTP and raw SQL) go through this same loop, so the harness overhead is the same on
 * both sides of every ratio.
 */

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

export interface LoadResult {
  concurrency: number;
  /** Wall time of the measured phase, including the drain of the last in-flight requests. */
  elapsedSec: number;
  requests: number;
  errors: number;
  /** The first error seen, to tell what broke. */
  firstError: string | null;
  requestsPerSec: number;
  latencyMs: LatencySummary;
  /**
   * When the run was measured in slices interleaved with other runs (runRounds): the median over its
   * slices of each slice's req/s and p50, which a slice disturbed by something else (a burst of cache
   * refills, another job on the machine) moves less than it moves the totals.
   */
  slices?: { count: number; requestsPerSec: number; p50: number; requestsPerSecEach: number[] };
}

/**
 * One request; `index` counts up across workers, for rotating viewers. `worker` is the caller's slot
 * (0 … concurrency − 1), for tasks that give each worker state of its own (its own user, say).
 */
export type Task = (index: number, worker: number) => Promise<void>;

/** Untimed work before each request of a task (e.g. evicting the cache entries it will read). */
export type BeforeEach = (index: number) => Promise<void>;

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export function summarize(latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const values = Array.from(sorted);
  const sum = values.reduce((a, b) => a + b, 0);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    p99: round(percentile(values, 99)),
    mean: round(values.length ? sum / values.length : Number.NaN),
    max: round(values.at(-1) ?? Number.NaN),
  };
}

export interface Phase {
  latencies: number[];
  errors: number;
  firstError: string | null;
  /** Wall time, minus the time spent in `beforeEach` when there was one. */
  elapsedMs: number;
}

/**
 * `concurrency` workers issue `task` back to back for `durationMs`. A worker's `beforeEach` time is
 * not part of the request's latency, and is taken out of the elapsed time (exactly at concurrency 1,
 * on average above it), so req/s counts request time only.
 */
export async function runPhase(
  task: Task,
  concurrency: number,
  durationMs: number,
  start: { next: number },
  beforeEach?: BeforeEach,
): Promise<Phase> {
  const phase: Phase = { latencies: [], errors: 0, firstError: null, elapsedMs: 0 };
  const began = performance.now();
  const deadline = began + durationMs;
  let untimedMs = 0;
  const worker = async (slot: number) => {
    while (performance.now() < deadline) {
      const index = start.next++;
      try {
        if (beforeEach) {
          const p0 = performance.now();
          await beforeEach(index);
          untimedMs += performance.now() - p0;
        }
      } catch (error) {
        phase.errors += 1;
        phase.firstError ??= `before the request: ${error instanceof Error ? error.message : String(error)}`;
        continue;
      }
      const t0 = performance.now();
      try {
        await task(index, slot);
        phase.latencies.push(performance.now() - t0);
      } catch (error) {
        phase.errors += 1;
        phase.firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, slot) => worker(slot)));
  phase.elapsedMs = performance.now() - began - untimedMs / concurrency;
  return phase;
}

/**
 * One result from measured phases (slices of one run, interleaved with other runs); warm-up errors count.
 * With more than one slice it also carries the medians of the slices (LoadResult.slices).
 */
export function toLoadResult(concurrency: number, measured: Phase[], warmup: Phase[] = []): LoadResult {
  const latencies = measured.flatMap((p) => p.latencies);
  const elapsedMs = measured.reduce((sum, p) => sum + p.elapsedMs, 0);
  const all = [...warmup, ...measured];
  return {
    concurrency,
    elapsedSec: Math.round(elapsedMs) / 1000,
    requests: latencies.length,
    errors: all.reduce((sum, p) => sum + p.errors, 0),
    firstError: all.find((p) => p.firstError !== null)?.firstError ?? null,
    requestsPerSec: Math.round((latencies.length / elapsedMs) * 1000 * 10) / 10,
    latencyMs: summarize(latencies),
    ...(measured.length > 1 ? { slices: roundedSlices(measured) } : {}),
  };
}

/** Each slice's req/s, and the medians over the slices of their req/s and p50. */
export function sliceMedians(measured: readonly Phase[]): {
  requestsPerSec: number;
  p50: number;
  requestsPerSecEach: number[];
} {
  const rates = measured.map((p) => (p.latencies.length / p.elapsedMs) * 1000);
  return {
    requestsPerSec: median(rates),
    p50: median(measured.map((p) => summarize(p.latencies).p50)),
    requestsPerSecEach: rates,
  };
}

function roundedSlices(measured: readonly Phase[]): NonNullable<LoadResult['slices']> {
  const tenth = (n: number) => Math.round(n * 10) / 10;
  const m = sliceMedians(measured);
  return {
    count: measured.length,
    requestsPerSec: tenth(m.requestsPerSec),
    p50: m.p50,
    requestsPerSecEach: m.requestsPerSecEach.map(tenth),
  };
}

/**
 * Warm-up (discarded), then the measured phase. `onMeasureStart` lets the caller start sampling; the
 * measured phase starts once it has resolved.
 */
export async function runLoad(
  task: Task,
  options: {
    concurrency: number;
    durationSec: number;
    warmupSec: number;
    onMeasureStart?: () => void | Promise<void>;
  },
): Promise<LoadResult> {
  const counter = { next: 0 };
  const warm = await runPhase(task, options.concurrency, options.warmupSec * 1000, counter);
  await options.onMeasureStart?.();
  const phase = await runPhase(task, options.concurrency, options.durationSec * 1000, counter);
  // Warm-up errors count too: the gate is "no request failed", not "none failed while measured".
  return toLoadResult(options.concurrency, [phase], [warm]);
}

/** One task of an interleaved run, with its untimed `beforeEach`; callers may add state of their own. */
export interface RoundTask {
  task: Task;
  beforeEach?: BeforeEach;
}

/**
 * The order of one round's slices: as given in even rounds, reversed in odd ones (A B C, C B A, A B C …).
 * Every task then follows a different neighbour from round to round and the two sides of an adjacent
 * pair take turns going first, so what a slice inherits from the one before it (a process just woken, a
 * table just written, caches the other side just filled) is not charged to the same task every round.
 */
export function roundOrder<T>(tasks: readonly T[], round: number): readonly T[] {
  return round % 2 === 0 ? tasks : [...tasks].reverse();
}

/**
 * Several tasks at one concurrency: a warm-up per task, then `rounds` rounds in which each task runs
 * durationSec / rounds seconds in turn (roundOrder: forwards, then backwards), each slice after
 * `sliceWarmupSec` unmeasured seconds of the same task when given. Interleaving spreads the machine's drift (other jobs, growing
 * tables) evenly over the tasks instead of charging it to whichever ran last. `beforeSlice` and
 * `afterSlice` run around each measured slice, outside its time (reading counters, say). Each task's
 * request counter carries on from its warm-up through its slices.
 */
export async function runRounds<T extends RoundTask>(
  tasks: readonly T[],
  concurrency: number,
  timing: {
    warmupSec: number;
    durationSec: number;
    rounds: number;
    /**
     * Unmeasured seconds each task runs again before each of its slices, so it is measured with its
     * caches as warm as when it runs alone (the other tasks' slices evict them: Postgres's shared
     * buffers hold less than the vector index). @default 0
     */
    sliceWarmupSec?: number;
  },
  hooks: { beforeSlice?: (task: T) => Promise<void>; afterSlice?: (task: T) => Promise<void> } = {},
): Promise<{ task: T; warmup: Phase[]; measured: Phase[] }[]> {
  const state = tasks.map((task) => ({
    task,
    counter: { next: 0 },
    warmup: [] as Phase[],
    measured: [] as Phase[],
  }));
  const run = (s: (typeof state)[number], seconds: number) =>
    runPhase(s.task.task, concurrency, seconds * 1000, s.counter, s.task.beforeEach);
  for (const s of state) s.warmup.push(await run(s, timing.warmupSec));
  const slice = timing.durationSec / timing.rounds;
  for (let round = 0; round < timing.rounds; round += 1) {
    for (const s of roundOrder(state, round)) {
      if (timing.sliceWarmupSec) s.warmup.push(await run(s, timing.sliceWarmupSec));
      await hooks.beforeSlice?.(s.task);
      s.measured.push(await run(s, slice));
      await hooks.afterSlice?.(s.task);
    }
  }
  return state.map(({ task, warmup, measured }) => ({ task, warmup, measured }));
}
