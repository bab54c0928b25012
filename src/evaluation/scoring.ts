import { MetricAccumulator, type MetricSummary } from '../embeddings/rankingMetrics.js';
import { seededRandom } from '../embeddings/seededRandom.js';
import { topK } from '../embeddings/topK.js';
import { PopularityBiasAccumulator, type PopularityBias } from './popularityBias.js';

/**
 * The catalogue the harness scores against: the ACTIVE listings (what the feed may serve), indexed
 * 0..n-1 in id order, with their train-like counts. Held-out listings that are not active stay in the
 * users' test sets and count as misses for every method. Pure.
 */
export interface Catalogue {
  listingIds: readonly number[];
  indexOf: ReadonlyMap<number, number>;
  /** Train likes per catalogue index. */
  trainLikes: Float64Array;
}

export function catalogueOf(
  activeListingIds: readonly number[],
  trainLikesOf: ReadonlyMap<number, number>,
): Catalogue {
  const listingIds = [...activeListingIds].sort((a, b) => a - b);
  return {
    listingIds,
    indexOf: new Map(listingIds.map((id, index) => [id, index])),
    trainLikes: Float64Array.from(listingIds, (id) => trainLikesOf.get(id) ?? 0),
  };
}

export type MethodMetrics = MetricSummary & PopularityBias;

/** One scored user: the held-out listing ids and the user's train-liked listing ids. */
export interface ScoredUser {
  userId: string;
  test: readonly number[];
  train: readonly number[];
}

/**
 * Metrics at k of one method's lists (listing ids, best first) against the users' held-out likes:
 * precision, recall, NDCG, hit rate (per-user means), coverage = distinct recommended ÷ active
 * listings, popularity bias. A listed id outside the catalogue is an error (the feed serves only
 * active listings).
 */
export function scoreLists(
  catalogue: Catalogue,
  users: readonly ScoredUser[],
  lists: readonly (readonly number[])[],
  k: number,
): MethodMetrics {
  const metrics = new MetricAccumulator(k, catalogue.listingIds.length);
  const bias = new PopularityBiasAccumulator(catalogue.trainLikes);
  users.forEach((user, u) => {
    // Inactive held-out listings get indices past the catalogue: never listed, so always misses.
    const relevant = new Set(
      user.test.map((id) => catalogue.indexOf.get(id) ?? catalogue.listingIds.length + id),
    );
    const list = (lists[u] ?? []).slice(0, k).map((id) => {
      const index = catalogue.indexOf.get(id);
      if (index === undefined)
        throw new RangeError(`listing ${id} was recommended but is not an active listing`);
      return index;
    });
    metrics.add(list, relevant);
    bias.add(list);
  });
  return { ...metrics.summary(), ...bias.summary() };
}

/** Most popular by train likes among active listings, the user's train likes excluded; ties to the lower id. */
export function mostPopularLists(catalogue: Catalogue, users: readonly ScoredUser[], k: number): number[][] {
  return users.map((user) => {
    const excluded = new Set(user.train.map((id) => catalogue.indexOf.get(id) ?? -1));
    return topK(catalogue.trainLikes, k, (i) => excluded.has(i)).map((i) => catalogue.listingIds[i]!);
  });
}

/** k distinct active listings drawn uniformly (seeded), the user's train likes excluded. */
export function randomLists(
  catalogue: Catalogue,
  users: readonly ScoredUser[],
  k: number,
  seed: number,
): number[][] {
  const random = seededRandom(seed, 11);
  const n = catalogue.listingIds.length;
  return users.map((user) => {
    const excluded = new Set(user.train.map((id) => catalogue.indexOf.get(id) ?? -1).filter((i) => i >= 0));
    const picked = new Set<number>();
    const want = Math.min(k, n - excluded.size);
    while (picked.size < want) {
      const i = random.below(n);
      if (!excluded.has(i)) picked.add(i);
    }
    return [...picked].map((i) => catalogue.listingIds[i]!);
  });
}

/**
 * Nearest active listings (cosine) to the mean of the user's train-liked listings' vectors. `vectors`
 * holds the stored embeddings of any listings (active or not); listings without one are never
 * recommended, and a user none of whose likes has one gets an empty list.
 */
export function nearestLists(
  catalogue: Catalogue,
  vectors: ReadonlyMap<number, Float32Array>,
  users: readonly ScoredUser[],
  k: number,
): number[][] {
  // Derived vectors are rank-64 factors zero-padded to the column's width: only the columns some
  // vector uses are kept, so scoring costs the rank, not the width, per item.
  let width = 0;
  for (const v of vectors.values()) width = Math.max(width, v.length);
  const used = new Uint8Array(width);
  for (const v of vectors.values()) for (let c = 0; c < v.length; c += 1) if (v[c] !== 0) used[c] = 1;
  const columns = [...used.keys()].filter((c) => used[c] === 1);
  const unit = new Map<number, Float32Array>();
  for (const [id, v] of vectors) {
    if (v.length !== width) continue;
    let s = 0;
    for (const x of v) s += x * x;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    unit.set(
      id,
      Float32Array.from(columns, (c) => v[c]! * inv),
    );
  }
  const rows = catalogue.listingIds.map((id) => unit.get(id) ?? null);
  const scores = new Float64Array(catalogue.listingIds.length);
  return users.map((user) => {
    let mean: Float64Array | null = null;
    for (const id of user.train) {
      const v = unit.get(id);
      if (!v) continue;
      mean ??= new Float64Array(v.length);
      for (let c = 0; c < v.length; c += 1) mean[c]! += v[c]!;
    }
    if (mean === null) return [];
    rows.forEach((row, i) => {
      if (row === null) {
        scores[i] = NaN;
        return;
      }
      let dot = 0;
      for (let c = 0; c < row.length; c += 1) dot += row[c]! * mean[c]!;
      scores[i] = dot;
    });
    const excluded = new Set(user.train.map((id) => catalogue.indexOf.get(id) ?? -1));
    return topK(scores, k, (i) => excluded.has(i)).map((i) => catalogue.listingIds[i]!);
  });
}

/** Slots served by one source and how many of them were held-out likes. */
export interface SourceTally {
  served: number;
  hits: number;
}

/**
 * Per source (the `source` each feed slot was served with): slots served in the first k and how many
 * were in the user's held-out likes, so what an exploration arm costs in precision is visible. Pure.
 */
export function sourceHits(
  users: readonly ScoredUser[],
  lists: readonly (readonly number[])[],
  sources: readonly (readonly string[])[],
  k: number,
): Record<string, SourceTally> {
  const tally: Record<string, SourceTally> = {};
  users.forEach((user, u) => {
    const test = new Set(user.test);
    const list = lists[u] ?? [];
    const from = sources[u] ?? [];
    for (let i = 0; i < Math.min(k, list.length); i += 1) {
      const source = from[i] ?? 'unknown';
      const t = (tally[source] ??= { served: 0, hits: 0 });
      t.served += 1;
      if (test.has(list[i]!)) t.hits += 1;
    }
  });
  return tally;
}
