import { describe, expect, it } from 'vitest';
import { cpuDelta, postgresCpu, processCpu } from '../../bench/topology/cpu.js';

describe('CPU accounting from /proc', () => {
  it("reads this process's CPU seconds, which grow with work", () => {
    const before = processCpu(process.pid);
    expect(before).toBeGreaterThan(0);
    const until = performance.now() + 120;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect(processCpu(process.pid)).toBeGreaterThan(before);
  });

  it('counts a parent with its live children, and is NaN for a process that is gone', () => {
    // This process as a "postmaster": at least its own CPU (its children, if any, add to it).
    // Its own reading first: CPU only grows, so the later, wider reading is at least as large.
    const own = processCpu(process.pid);
    expect(postgresCpu(process.pid)).toBeGreaterThanOrEqual(own);
    expect(processCpu(2 ** 22 + 7)).toBeNaN();
    expect(postgresCpu(2 ** 22 + 7)).toBeNaN();
  });

  it('subtracts readings component by component', () => {
    expect(cpuDelta({ gateways: 1.5, redis: 0.25 }, { gateways: 4, redis: 1 })).toEqual({
      gateways: 2.5,
      redis: 0.75,
    });
  });
});
