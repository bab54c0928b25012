import { describe, expect, it } from 'vitest';
import { createCircuitBreaker, type BreakerState } from './circuitBreaker.js';

function clocked(options: { failureThreshold?: number; openMs?: number } = {}) {
  let t = 0;
  const changes: BreakerState[] = [];
  const breaker = createCircuitBreaker({ ...options, now: () => t, onStateChange: (s) => changes.push(s) });
  return { breaker, changes, advance: (ms: number) => (t += ms) };
}

describe('circuit breaker', () => {
  it('stays closed through failures below the threshold and resets on success', () => {
    const { breaker } = clocked({ failureThreshold: 3 });
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
  });

  it('opens after consecutive failures and then lets nothing through', () => {
    const { breaker, changes } = clocked({ failureThreshold: 3, openMs: 1000 });
    for (let i = 0; i < 3; i++) breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    expect(changes).toEqual(['open']);
  });

  it('lets exactly one probe through once the open period is over; success closes it', () => {
    const { breaker, advance, changes } = clocked({ failureThreshold: 1, openMs: 1000 });
    breaker.failure();
    advance(999);
    expect(breaker.allow()).toBe(false);
    advance(1);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
    expect(changes).toEqual(['open', 'halfOpen', 'closed']);
  });

  it('re-opens for another period when the probe fails', () => {
    const { breaker, advance } = clocked({ failureThreshold: 5, openMs: 1000 });
    for (let i = 0; i < 5; i++) breaker.failure();
    advance(1000);
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    advance(500);
    expect(breaker.allow()).toBe(false);
    advance(500);
    expect(breaker.allow()).toBe(true);
  });

  it('refuses a threshold that is not a positive integer', () => {
    expect(() => createCircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
  });
});
