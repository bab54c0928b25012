/** The rate limiter's windows: one minute, aligned to multiples of it (src/social/rateLimits.ts). */
export const RATE_WINDOW_MS = 60_000;

/**
 * Waits until the current rate-limit window has at least `marginMs` left, so a test that spends a
 * budget and then expects RATE_LIMITED never sees the window roll over (and the budget refill) halfway.
 * Waits at most `marginMs`.
 */
export async function awayFromWindowEdge(marginMs = 10_000): Promise<void> {
  const left = RATE_WINDOW_MS - (Date.now() % RATE_WINDOW_MS);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
