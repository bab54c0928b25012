import type { Viewer } from '../../src/auth/viewer.js';
import {
  EMBEDDING_DIM,
  embeddingFor,
  insertCategory,
  insertInterest,
  insertProfile,
  insertUserInterest,
  toVectorLiteral,
  unique,
  type Queryable,
} from './fixtures.js';

/**
 * Feed fixtures: categories whose listings' embeddings sit in tight, mutually orthogonal clusters, one
 * interest per category pointing at its cluster's centre, and viewers whose profile embedding is
 * recomputed from their interests by the database itself.
 */

/** The centre of cluster `k`: a unit basis vector, so different clusters are orthogonal. */
export function clusterCentre(k: number): number[] {
  const v = new Array<number>(EMBEDDING_DIM).fill(0);
  v[(k * 7) % EMBEDDING_DIM] = 1;
  return v;
}

/** A unit vector near cluster `k`'s centre (cosine ≈ 0.95 to it, ≈ 0 to other centres). */
export function clusterVector(k: number, seed: number, spread = 0.3): number[] {
  const noise = embeddingFor(seed + 1);
  const noiseNorm = Math.hypot(...noise);
  const raw = clusterCentre(k).map((c, i) => c + (noise[i]! / noiseNorm) * spread);
  const norm = Math.hypot(...raw);
  return raw.map((x) => x / norm);
}

export interface FeedListing {
  id: number;
  categoryId: number;
  cluster: number;
  popularity: number;
}

export interface FeedWorld {
  /** categoryIds[k] holds the listings of cluster k. */
  categoryIds: number[];
  slugs: string[];
  /** interestIds[k]'s embedding is cluster k's centre. */
  interestIds: number[];
  /** Active listings, by cluster. */
  listings: FeedListing[][];
  sellerId: string;
}

/**
 * `perCategory[k]` active listings in cluster k. Popularity is distinct and interleaved across clusters
 * (listing i of all listings, round robin over clusters, has popularity 1000 − i), created_at likewise
 * (listing i is i minutes old), so "most popular" and "newest" pages mix categories.
 */
export async function seedFeedWorld(q: Queryable, perCategory: number[]): Promise<FeedWorld> {
  const categoryIds: number[] = [];
  const slugs: string[] = [];
  const interestIds: number[] = [];
  for (let k = 0; k < perCategory.length; k += 1) {
    const slug = unique(`feed-c${k}-`);
    slugs.push(slug);
    const categoryId = await insertCategory(q, slug);
    categoryIds.push(categoryId);
    interestIds.push(await insertInterest(q, { categoryId, embedding: clusterCentre(k) }));
  }
  const sellerId = await insertProfile(q);
  const rows: { cluster: number; seq: number }[] = [];
  const remaining = [...perCategory];
  for (let seq = 0; remaining.some((n) => n > 0);) {
    for (let k = 0; k < remaining.length; k += 1) {
      if (remaining[k]! <= 0) continue;
      remaining[k]! -= 1;
      rows.push({ cluster: k, seq });
      seq += 1;
    }
  }
  const { rows: inserted } = await q.query<{ id: number; ord: number }>(
    `INSERT INTO marketplace_listings (category_id, seller_id, title, price, popularity, created_at, embedding)
     SELECT c, $2, 'Feed listing ' || ord, 10, 1000 - ord, now() - make_interval(mins => ord::int), e::vector
     FROM unnest($1::int[], $3::text[]) WITH ORDINALITY AS t(c, e, ord)
     RETURNING id, (1000 - popularity)::int AS ord`,
    [
      rows.map((r) => categoryIds[r.cluster]!),
      sellerId,
      rows.map((r) => toVectorLiteral(clusterVector(r.cluster, r.seq * 31 + r.cluster))),
    ],
  );
  const listings: FeedListing[][] = perCategory.map(() => []);
  for (const row of inserted.sort((a, b) => a.ord - b.ord)) {
    const source = rows[row.ord - 1]!;
    listings[source.cluster]!.push({
      id: row.id,
      categoryId: categoryIds[source.cluster]!,
      cluster: source.cluster,
      popularity: 1000 - row.ord,
    });
  }
  await refreshVectorIndex(q);
  return { categoryIds, slugs, interestIds, listings, sellerId };
}

/** The ivfflat index was built on an empty template: rebuild it on the fixtures, then refresh stats. */
export async function refreshVectorIndex(q: Queryable): Promise<void> {
  await q.query('REINDEX INDEX marketplace_listings_embedding_ivfflat');
  await q.query('ANALYZE marketplace_listings');
}

/** A new signed-in viewer with these interests; the profile embedding is recomputed in SQL. */
export async function createFeedViewer(
  q: Queryable,
  interests: readonly { interestId: number; affinity: number }[],
): Promise<Viewer & { userId: string }> {
  const userId = await insertProfile(q);
  for (const interest of interests) await insertUserInterest(q, { userId, ...interest });
  if (interests.length > 0) {
    const { rows } = await q.query<{ ok: boolean }>('SELECT recompute_profile_embedding($1) AS ok', [userId]);
    if (rows[0]?.ok !== true) throw new Error('recompute_profile_embedding set no embedding');
  }
  return { role: 'user', userId };
}

export interface LearningEventRow {
  id: string;
  user_id: string | null;
  listing_id: number;
  policy: string;
  source: string;
  propensity: number;
  position: number;
  reward: number | null;
  context: { session?: string; requestId?: string; position?: number };
}

/** Learning events of some impressions, read past RLS as the owner. */
export async function learningEvents(
  q: Queryable,
  impressionIds: readonly string[],
): Promise<LearningEventRow[]> {
  const { rows } = await q.query<LearningEventRow>(
    `SELECT id, user_id, listing_id, policy, source, propensity, position, reward, context
       FROM learning_events WHERE id = ANY($1::uuid[]) ORDER BY position`,
    [impressionIds],
  );
  return rows;
}
