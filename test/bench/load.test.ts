import { describe, expect, it } from 'vitest';
import { mix32 } from '../../bench/shared/http.js';
import { roundOrder, runRounds, toLoadResult, type Phase, type RoundTask } from '../../bench/shared/load.js';

describe('interleaved rounds (bench/shared/load.ts)', () => {
  it('alternate the order of the slices from round to round, so no task always follows the same one', async () => {
    const tasks = ['A', 'B', 'C'].map(
      (name) => ({ name, task: async () => {} }) satisfies RoundTask & { name: string },
    );
    const order: string[] = [];
    const results = await runRounds(
      tasks,
      1,
      { warmupSec: 0.001, durationSec: 0.012, rounds: 4 },
      { beforeSlice: async (t) => void order.push(t.name) },
    );
    expect(order.join('')).toBe('ABCCBAABCCBA');
    // Results keep the callers' order, one measured slice per round each.
    expect(results.map((r) => [r.task.name, r.measured.length])).toEqual([
      ['A', 4],
      ['B', 4],
      ['C', 4],
    ]);
  });

  it('leave the given list alone', () => {
    const tasks = [1, 2, 3];
    expect(roundOrder(tasks, 1)).toEqual([3, 2, 1]);
    expect(tasks).toEqual([1, 2, 3]);
    expect(roundOrder(tasks, 2)).toBe(tasks);
  });

  it('warm each task up again right before each of its slices when asked, unmeasured', async () => {
    const log: string[] = [];
    const tasks = ['A', 'B'].map((name) => ({
      name,
      task: async () => {
        log.push(name);
        await new Promise((resolve) => setTimeout(resolve, 1));
      },
    }));
    const results = await runRounds(
      tasks,
      1,
      { warmupSec: 0.005, durationSec: 0.03, rounds: 3, sliceWarmupSec: 0.005 },
      { beforeSlice: async (t) => void log.push(`[${t.name}]`) },
    );
    // One warm-up at the start and one before each of the 3 slices; only slices are measured.
    expect(results.map((r) => [r.task.name, r.warmup.length, r.measured.length])).toEqual([
      ['A', 4, 3],
      ['B', 4, 3],
    ]);
    // Before each slice marker, the same task ran (its warm-up), never the other one.
    const marks = log.flatMap((entry, i) => (entry.startsWith('[') ? [[entry, log[i - 1]]] : []));
    expect(marks.every(([mark, before]) => mark === `[${before}]`)).toBe(true);
  });
});

describe('a result measured in slices', () => {
  const slice = (requests: number, elapsedMs: number, latency: number): Phase => ({
    latencies: Array(requests).fill(latency) as number[],
    errors: 0,
    firstError: null,
    elapsedMs,
  });

  it('carries the median of its slices beside the totals, which one slow slice moves less', () => {
    const result = toLoadResult(16, [slice(400, 2000, 40), slice(100, 2000, 160), slice(420, 2000, 38)]);
    expect(result.requestsPerSec).toBe(153.3);
    expect(result.slices).toEqual({
      count: 3,
      requestsPerSec: 200,
      p50: 40,
      requestsPerSecEach: [200, 50, 210],
    });
  });

  it('has no slices when measured in one piece', () => {
    expect(toLoadResult(1, [slice(10, 1000, 5)]).slices).toBeUndefined();
  });
});

describe('viewers drawn by request number (feedTask with shuffled)', () => {
  it('are the same draws every run, reach every viewer and favour none', () => {
    const viewers = 300;
    const draws = Array.from({ length: 30 * viewers }, (_, i) => mix32(i) % viewers);
    expect(draws).toEqual(Array.from({ length: 30 * viewers }, (_, i) => mix32(i) % viewers));
    const counts = new Array<number>(viewers).fill(0);
    for (const v of draws) counts[v]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(10);
    expect(Math.max(...counts)).toBeLessThan(55);
    // Not in turn: consecutive requests rarely go to consecutive viewers.
    const inTurn = draws.filter((v, i) => i > 0 && v === (draws[i - 1]! + 1) % viewers).length;
    expect(inTurn).toBeLessThan(draws.length / 100);
  });
});
