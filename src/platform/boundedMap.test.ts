import { describe, expect, it } from 'vitest';
import { setBounded } from './boundedMap.js';

describe('setBounded', () => {
  it('keeps the newest entries, a key set again counting as new', () => {
    const map = new Map<string, number>();
    setBounded(map, 'a', 1, 2);
    setBounded(map, 'b', 2, 2);
    setBounded(map, 'a', 3, 2);
    setBounded(map, 'c', 4, 2);
    expect([...map.entries()]).toEqual([
      ['a', 3],
      ['c', 4],
    ]);
  });

  it('never holds more than max', () => {
    const map = new Map<number, number>();
    for (let i = 0; i < 100; i += 1) setBounded(map, i, i, 10);
    expect(map.size).toBe(10);
    expect([...map.keys()]).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
  });
});
