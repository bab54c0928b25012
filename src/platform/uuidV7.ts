import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_v, i) => i.toString(16).padStart(2, '0'));

/**
 * `count` UUIDv7 ids (RFC 9562): the first 48 bits are `atMs` (Unix milliseconds), then the version (7),
 * 12 random bits, the variant (10) and 62 random bits. The event logs are partitioned by time
 * (learning_events), and the time an impression id carries finds its partition: feedback on it reads one
 * week, not every week (record_learning_reward, uuid_v7_time in SQL).
 */
export function uuidV7s(count: number, atMs: number = Date.now()): string[] {
  const bytes = randomFillSync(Buffer.allocUnsafe(16 * count));
  const ids: string[] = [];
  // 48 bits: high 16 and low 32, as integers (bit operators are 32-bit).
  const high = Math.floor(atMs / 2 ** 32) & 0xffff;
  const low = atMs >>> 0;
  for (let i = 0; i < count; i += 1) {
    const b = bytes.subarray(16 * i, 16 * i + 16);
    b[0] = high >>> 8;
    b[1] = high & 0xff;
    b[2] = low >>> 24;
    b[3] = (low >>> 16) & 0xff;
    b[4] = (low >>> 8) & 0xff;
    b[5] = low & 0xff;
    b[6] = 0x70 | (b[6]! & 0x0f);
    b[8] = 0x80 | (b[8]! & 0x3f);
    let s = '';
    for (let j = 0; j < 16; j += 1) {
      if (j === 4 || j === 6 || j === 8 || j === 10) s += '-';
      s += HEX[b[j]!];
    }
    ids.push(s);
  }
  return ids;
}
