/**
 * Latency histogram of exposed traffic: upper bounds in ms of each bucket; a last bucket (+Inf) follows.
 * Stored per row in flag_exposure_stats.latency_buckets, so changing them needs a new column version.
 */
export const LATENCY_BUCKETS_MS = [
  2, 5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000,
] as const;

/** Index of the bucket a duration falls in (the last index is +Inf). */
export function bucketIndex(ms: number): number {
  const i = LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return i === -1 ? LATENCY_BUCKETS_MS.length : i;
}

export const emptyBuckets = (): number[] => new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);

/**
 * The q-quantile (0..1) of a histogram, interpolated linearly inside its bucket; null when empty.
 * The +Inf bucket reports its lower bound (the quantile is at least that).
 */
export function quantileOf(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i += 1) {
    const n = buckets[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      const low = i === 0 ? 0 : (LATENCY_BUCKETS_MS[i - 1] ?? 0);
      const high = LATENCY_BUCKETS_MS[i];
      if (high === undefined) return low;
      return low + ((rank - seen) / n) * (high - low);
    }
    seen += n;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1] ?? null;
}
