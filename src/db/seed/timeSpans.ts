export const SECOND_MS = 1000;
export const DAY_MS = 86_400_000;

/** Whole-second instant uniformly between `from` and `to` (ms), so timestamps print without fractions. */
export function instantBetween(from: number, to: number, u: number): number {
  return Math.floor((from + (to - from) * u) / SECOND_MS) * SECOND_MS;
}

export function isoTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}
