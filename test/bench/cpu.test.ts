import { describe, expect, it } from 'vitest';
import {
  cpuDelta,
  cpuMsPerRequest,
  parentPid,
  postgresCpu,
  postgresProcessesCpu,
  processCpu,
  processesCpuBetween,
} from '../../bench/shared/cpu.js';

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

  it("finds a process's parent (a backend's postmaster)", () => {
    expect(parentPid(process.pid)).toBe(process.ppid);
    expect(parentPid(2 ** 22 + 7)).toBeNaN();
  });

  it('sums slices into CPU ms per request, rounded to 0.01 ms, and says nothing without requests', () => {
    const slices = [
      { gateway: 0.3, postgres: 0.4, bench: 0.03 },
      { gateway: 0.26, postgres: 0.38, bench: 0.03 },
    ];
    expect(cpuMsPerRequest(slices, 200)).toEqual({ gateway: 2.8, postgres: 3.9, bench: 0.3 });
    expect(cpuMsPerRequest(slices, 0)).toBeNull();
    expect(cpuMsPerRequest([], 10)).toBeNull();
  });

  it('counts a server process by process: growth of the live ones, new ones whole, none of an exited one', () => {
    const before = new Map([
      [10, 5],
      [11, 2],
    ]);
    const after = new Map([
      [10, 5.25],
      [12, 0.5],
    ]);
    // 11 exited: its 2 s of life are not this slice's (the postmaster's cutime would have said they were).
    expect(processesCpuBetween(before, after)).toBe(0.75);
    expect(processesCpuBetween(before, new Map())).toBeNaN();
    // This process as a "postmaster": itself at least, by pid.
    expect(postgresProcessesCpu(process.pid).get(process.pid)).toBeGreaterThan(0);
    expect(postgresProcessesCpu(2 ** 22 + 7).size).toBe(0);
  });

  it('subtracts readings component by component', () => {
    expect(cpuDelta({ gateways: 1.5, redis: 0.25 }, { gateways: 4, redis: 1 })).toEqual({
      gateways: 2.5,
      redis: 0.75,
    });
  });
});
