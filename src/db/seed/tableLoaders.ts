import type { SeedPlan } from './buildSeedPlan.js';
import type { StatementQueue } from './createStatementQueue.js';
import { createListingEmbedder } from './generateListings.js';
import { inBatches, intSlice, isoSlice, ROW_BATCH } from './inBatches.js';
import { DAY_MS, isoTimestamp } from './timeSpans.js';
import { directionLiteral } from './unitVectors.js';

// Listing and interest rows carry a ~1.9 KB embedding literal each: ~10 MB per statement.
const VECTOR_BATCH = 5_000;

// The catalog predates every account and listing.
const catalogCreatedAt = (plan: SeedPlan): string => isoTimestamp(plan.asOfMs - 400 * DAY_MS);

export function loadCategories(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { categories } = plan.catalog;
  return inBatches(
    queue,
    `INSERT INTO categories (id, slug, name, created_at)
     SELECT c.id, c.slug, c.name, $4::timestamptz FROM unnest($1::int[], $2::text[], $3::text[]) AS c(id, slug, name)`,
    categories.length,
    ROW_BATCH,
    (start, end) => {
      const rows = categories.slice(start, end);
      return [
        rows.map((c) => c.id),
        rows.map((c) => c.slug),
        rows.map((c) => c.name),
        catalogCreatedAt(plan),
      ];
    },
  );
}

export function loadInterests(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { categories, interests } = plan.catalog;
  return inBatches(
    queue,
    `INSERT INTO interest_catalog (id, slug, name, category_id, embedding, popularity, created_at)
     SELECT i.id, i.slug, i.name, i.category_id, l2_normalize(i.embedding), i.popularity, $7::timestamptz
     FROM unnest($1::int[], $2::text[], $3::text[], $4::int[], $5::vector[], $6::float8[])
       AS i(id, slug, name, category_id, embedding, popularity)`,
    interests.length,
    VECTOR_BATCH,
    (start, end) => {
      const rows = interests.slice(start, end);
      return [
        rows.map((i) => i.id),
        rows.map((i) => i.slug),
        rows.map((i) => i.name),
        rows.map((i) => categories[i.categoryIndex]?.id ?? 0),
        rows.map((i) => directionLiteral(i.embedding)),
        rows.map((i) => i.popularity),
        catalogCreatedAt(plan),
      ];
    },
  );
}

export function loadProfiles(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { users, follows } = plan;
  return inBatches(
    queue,
    `INSERT INTO profiles (user_id, handle, display_name, role, follower_count, following_count, created_at, updated_at)
     SELECT p.user_id, p.handle, p.display_name, p.role, p.followers, p.following, p.created_at, p.created_at
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::timestamptz[])
       AS p(user_id, handle, display_name, role, followers, following, created_at)`,
    users.count,
    ROW_BATCH,
    (start, end) => [
      users.userIds.slice(start, end),
      users.handles.slice(start, end),
      users.displayNames.slice(start, end),
      users.roles.slice(start, end),
      intSlice(follows.followerCount, start, end),
      intSlice(follows.followingCount, start, end),
      isoSlice(users.createdAt, start, end),
    ],
  );
}

export function loadUserInterests(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { userInterests: ui, users } = plan;
  return inBatches(
    queue,
    `INSERT INTO user_interests (user_id, interest_id, affinity, reinforced_at, created_at)
     SELECT * FROM unnest($1::uuid[], $2::int[], $3::real[], $4::timestamptz[], $5::timestamptz[])`,
    ui.userIndex.length,
    ROW_BATCH,
    (start, end) => [
      ui.userIndex.slice(start, end).map((u) => users.userIds[u]),
      ui.interestIndex.slice(start, end).map((i) => i + 1),
      ui.affinity.slice(start, end),
      isoSlice(ui.reinforcedAt, start, end),
      isoSlice(ui.createdAt, start, end),
    ],
  );
}

export function loadListings(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { listings, users } = plan;
  const embed = createListingEmbedder(plan.seed, plan.catalog, listings, plan.taste);
  return inBatches(
    queue,
    `INSERT INTO marketplace_listings (id, category_id, seller_id, title, description, price, status, embedding,
       like_count, comment_count, popularity, created_at, updated_at)
     SELECT l.id, l.category_id, l.seller_id, l.title, l.description, l.price, l.status, l2_normalize(l.embedding),
       l.like_count, l.comment_count, l.popularity, l.created_at, l.updated_at
     FROM unnest($1::int[], $2::int[], $3::uuid[], $4::text[], $5::text[], $6::numeric[], $7::text[], $8::vector[],
       $9::int[], $10::int[], $11::float8[], $12::timestamptz[], $13::timestamptz[])
       AS l(id, category_id, seller_id, title, description, price, status, embedding,
         like_count, comment_count, popularity, created_at, updated_at)`,
    listings.count,
    VECTOR_BATCH,
    (start, end) => {
      const ids: number[] = [];
      const embeddings: string[] = [];
      for (let i = start; i < end; i += 1) {
        ids.push(i + 1);
        embeddings.push(directionLiteral(embed(i)));
      }
      return [
        ids,
        intSlice(listings.categoryIndex, start, end).map((c) => c + 1),
        intSlice(listings.sellerIndex, start, end).map((u) => users.userIds[u]),
        listings.titles.slice(start, end),
        listings.descriptions.slice(start, end),
        listings.prices.slice(start, end),
        listings.statuses.slice(start, end),
        embeddings,
        intSlice(listings.likeCount, start, end),
        intSlice(listings.commentCount, start, end),
        listings.popularity.slice(start, end),
        isoSlice(listings.createdAt, start, end),
        isoSlice(listings.updatedAt, start, end),
      ];
    },
  );
}
