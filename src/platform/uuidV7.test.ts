import { describe, expect, it } from 'vitest';
import { uuidV7s } from './uuidV7.js';

/** The Unix milliseconds a UUIDv7 carries (as uuid_v7_time in SQL reads them); null for another version. */
function uuidV7Time(id: string): number | null {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return null;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

describe('uuidV7s', () => {
  it('makes version-7, RFC-variant uuids that carry the given millisecond', () => {
    const at = Date.UTC(2026, 11, 5, 10, 30, 0, 123);
    const ids = uuidV7s(50, at);
    expect(new Set(ids).size).toBe(50);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(uuidV7Time(id)).toBe(at);
    }
  });

  it('orders by time: an id made later sorts after one made earlier', () => {
    const [early] = uuidV7s(1, 1_700_000_000_000);
    const [late] = uuidV7s(1, 1_700_000_000_001);
    expect(early! < late!).toBe(true);
  });

  it('reads the time only from a version-7 uuid', () => {
    expect(uuidV7Time('9b2c1b4e-5f7a-4c3d-8e9f-0a1b2c3d4e5f')).toBeNull();
    expect(uuidV7Time('not a uuid')).toBeNull();
    // The largest 48-bit time round-trips (no 32-bit truncation).
    expect(uuidV7Time(uuidV7s(1, 2 ** 48 - 1)[0]!)).toBe(2 ** 48 - 1);
  });
});
