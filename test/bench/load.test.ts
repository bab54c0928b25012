import { describe, expect, it } from 'vitest';
import { roundOrder, runRounds, type RoundTask } from '../../bench/shared/load.js';

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
});
