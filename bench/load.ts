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
}

/** One request; `index` counts up across workers, for rotating viewers. */
export type Task = (index: number) => Promise<void>;

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
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

interface Phase {
  latencies: number[];
  errors: number;
  firstError: string | null;
  elapsedMs: number;
}

async function runPhase(task: Task, concurrency: number, durationMs: number, start: { next: number }) {
  const phase: Phase = { latencies: [], errors: 0, firstError: null, elapsedMs: 0 };
  const began = performance.now();
  const deadline = began + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const index = start.next++;
      const t0 = performance.now();
      try {
        await task(index);
        phase.latencies.push(performance.now() - t0);
      } catch (error) {
        phase.errors += 1;
        phase.firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  phase.elapsedMs = performance.now() - began;
  return phase;
}

/** Warm-up (discarded), then the measured phase. `onMeasureStart` lets the caller start sampling. */
export async function runLoad(
  task: Task,
  options: { concurrency: number; durationSec: number; warmupSec: number; onMeasureStart?: () => void },
): Promise<LoadResult> {
  const counter = { next: 0 };
  const warm = await runPhase(task, options.concurrency, options.warmupSec * 1000, counter);
  options.onMeasureStart?.();
  const phase = await runPhase(task, options.concurrency, options.durationSec * 1000, counter);
  const errors = warm.errors + phase.errors;
  return {
    concurrency: options.concurrency,
    elapsedSec: Math.round(phase.elapsedMs) / 1000,
    requests: phase.latencies.length,
    // Warm-up errors count too: the gate is "no request failed", not "none failed while measured".
    errors,
    firstError: warm.firstError ?? phase.firstError,
    requestsPerSec: Math.round((phase.latencies.length / phase.elapsedMs) * 1000 * 10) / 10,
    latencyMs: summarize(phase.latencies),
  };
}
