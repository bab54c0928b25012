import type { ServiceDb } from '../db/service.js';
import { coerceError } from '../errors/errors.js';
import { categoryExplorationSampleSql, explorationSampleSql } from './sql.js';

/** Listings a process keeps per scope (all categories, or one) for the EXPLORE pool to pick from. */
export const EXPLORATION_SAMPLE_SIZE = 2000;

export interface ExplorationSample {
  /**
   * Up to `count` ids of active listings (of the category, when given) in an order fixed by `seed`:
   * the same seed gives the same order while the sample lasts (a feed session's pages walk one order),
   * different seeds different ones. The candidate statement keeps the first eligible of them.
   */
  pick(categoryId: number | null, seed: number, count: number): Promise<number[]>;
}

interface Drawn {
  ids: Int32Array;
  drawnAt: number;
}

/** A 32-bit mix of a listing id and a seed (murmur3's finaliser): a stable pseudo-random rank. */
function rank(id: number, seed: number): number {
  let h = Math.imul(id ^ seed, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Positions fit in the low 21 bits of a sort key: a 32-bit rank × 2^21 + position stays below 2^53. */
const POSITION_SPACE = 2 ** 21;

/**
 * Moves the `k` smallest of `keys` (distinct) to its first `k` places, in no particular order
 * (Hoare's quickselect: linear on average; the keys are hashes, so the middle element is a random pivot).
 */
function selectSmallest(keys: Float64Array, k: number): void {
  let lo = 0;
  let hi = keys.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = keys[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (keys[i]! < pivot) i += 1;
      while (keys[j]! > pivot) j -= 1;
      if (i <= j) {
        const swap = keys[i]!;
        keys[i] = keys[j]!;
        keys[j] = swap;
        i += 1;
        j -= 1;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return;
  }
}

/** The `count` ids of lowest rank for the seed, lowest first (a selection, then a sort of those alone). */
export function seededPick(ids: ArrayLike<number>, seed: number, count: number): number[] {
  const n = ids.length;
  if (n > POSITION_SPACE) throw new RangeError(`seededPick takes at most ${POSITION_SPACE} ids`);
  if (n === 0 || count <= 0) return [];
  // Exact in a double (and distinct): select and sort the lowest keys, then decode each position.
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i += 1) keys[i] = rank(ids[i]!, seed) * POSITION_SPACE + i;
  const k = Math.min(count, n);
  if (k < n) selectSmallest(keys, k);
  const lowest = keys.subarray(0, k).sort();
  const out: number[] = [];
  for (let i = 0; i < k; i += 1) out.push(ids[lowest[i]! % POSITION_SPACE]!);
  return out;
}

/**
 * The exploration pool's listings, drawn once per scope and process and redrawn every `refreshMs`
 * (in the background: requests meanwhile use the last draw), instead of sampling the table in every
 * feed request. Only the first request of a scope waits for a draw; a failed redraw keeps the last one.
 * Whether a listing is still active, the viewer's own, liked, hidden or served is checked at serve time
 * by the candidate statement, so a sold listing leaves the pool at once; a new one joins it with the
 * next draw.
 */
export function createExplorationSample(options: {
  service: Pick<ServiceDb, 'query'>;
  logger: { warn: (fields: object, message: string) => void };
  refreshMs: number;
  size?: number;
  now?: () => number;
}): ExplorationSample {
  const size = Math.min(POSITION_SPACE, options.size ?? EXPLORATION_SAMPLE_SIZE);
  const now = options.now ?? Date.now;
  const drawn = new Map<string, Drawn>();
  const drawing = new Map<string, Promise<Drawn>>();

  const draw = (categoryId: number | null): Promise<Drawn> => {
    const key = String(categoryId);
    const running = drawing.get(key);
    if (running) return running;
    const query =
      categoryId === null
        ? options.service.query<{ id: number }>(explorationSampleSql, [size], 'feed_exploration_sample')
        : options.service.query<{ id: number }>(
            categoryExplorationSampleSql,
            [categoryId, size],
            'feed_category_exploration_sample',
          );
    const next = query
      .then((rows) => {
        const result = { ids: Int32Array.from(rows, (r) => r.id), drawnAt: now() };
        drawn.set(key, result);
        return result;
      })
      .finally(() => drawing.delete(key));
    drawing.set(key, next);
    return next;
  };

  return {
    async pick(categoryId, seed, count) {
      const key = String(categoryId);
      const last = drawn.get(key);
      let sample: Drawn;
      if (!last) sample = await draw(categoryId);
      else {
        sample = last;
        // One redraw at a time (and one warning when it fails).
        if (now() - last.drawnAt >= options.refreshMs && !drawing.has(key))
          draw(categoryId).catch((error: unknown) => {
            // Keep the last draw for another period: no redraw per request while the database is away.
            drawn.set(key, { ids: last.ids, drawnAt: now() });
            options.logger.warn(
              { err: coerceError(error), categoryId },
              'could not redraw the exploration sample; keeping the last',
            );
          });
      }
      return seededPick(sample.ids, seed, count);
    },
  };
}
