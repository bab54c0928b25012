/** closed: calls go through; open: none do; halfOpen: one probe at a time decides which way it goes. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. @default 3 */
  failureThreshold?: number;
  /** How long it stays open before letting one probe through. @default 2000 */
  openMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  onStateChange?: (state: BreakerState) => void;
}

export interface CircuitBreaker {
  readonly state: BreakerState;
  /** Whether a call may go out now; in halfOpen only the single probe may. */
  allow(): boolean;
  success(): void;
  failure(): void;
}

/**
 * Consecutive-failure circuit breaker: while open, callers skip the dependency entirely (no waiting on
 * a timeout); after `openMs` one probe goes through, and its outcome closes or re-opens the breaker.
 */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const { failureThreshold = 3, openMs = 2000, now = Date.now, onStateChange } = options;
  if (!(Number.isInteger(failureThreshold) && failureThreshold >= 1)) {
    throw new RangeError(`failureThreshold must be a positive integer, got ${failureThreshold}`);
  }
  let state: BreakerState = 'closed';
  let failures = 0;
  let openedAt = 0;
  let probing = false;
  const moveTo = (next: BreakerState) => {
    if (next === state) return;
    state = next;
    onStateChange?.(next);
  };
  return {
    get state() {
      if (state === 'open' && now() - openedAt >= openMs) moveTo('halfOpen');
      return state;
    },
    allow() {
      const current = this.state;
      if (current === 'closed') return true;
      if (current === 'open' || probing) return false;
      probing = true;
      return true;
    },
    success() {
      probing = false;
      failures = 0;
      moveTo('closed');
    },
    failure() {
      probing = false;
      failures += 1;
      if (state === 'halfOpen' || failures >= failureThreshold) {
        openedAt = now();
        moveTo('open');
      }
    },
  };
}
