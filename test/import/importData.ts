import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { embeddingFor } from '../support/fixtures.js';

/**
 * A small marketplace in import files (every kind, NDJSON and CSV), with known bad rows: one per kind
 * of problem the importer must reject and go on. Times are relative to `now` so retention is testable.
 */

export interface ImportDataset {
  dir: string;
  files: {
    categories: string;
    users: string;
    interests: string;
    listings: string;
    userInterests: string;
    interactions: string;
  };
  /** What a correct import holds. */
  expected: {
    likes: number;
    follows: number;
    signals: number;
    skippedOld: number;
    /** Rejected rows per kind. */
    rejected: Record<string, number>;
    /** like_count per listing external id. */
    likeCounts: Record<string, number>;
  };
}

const day = 86_400_000;
const csvCell = (value: string): string => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

export async function writeImportDataset(now = Date.now()): Promise<ImportDataset> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lodestar-import-'));
  const at = (daysAgo: number, minutes = 0) => new Date(now - daysAgo * day - minutes * 60_000).toISOString();
  const files = {
    categories: path.join(dir, 'categories.csv'),
    users: path.join(dir, 'users.ndjson'),
    interests: path.join(dir, 'interests.ndjson'),
    listings: path.join(dir, 'listings.csv'),
    userInterests: path.join(dir, 'user-interests.csv'),
    interactions: path.join(dir, 'interactions.csv'),
  };
  await writeFile(
    files.categories,
    'slug,name\nshoes,Shoes\nbikes,"Bikes, bicycles"\ncameras,Cameras\nBad Slug,Nope\n',
  );
  const users = Array.from({ length: 6 }, (_, i) => ({
    externalId: `u${i}`,
    handle: `imp_user_${i}`,
    displayName: `User ${i}`,
    createdAt: at(400),
  }));
  await writeFile(
    files.users,
    [
      ...users.map((u) => JSON.stringify(u)),
      '{"externalId": "u-bad", "handle": "X"}', // bad handle
      'not json at all',
    ].join('\n') + '\n',
  );
  const interests = ['shoes', 'bikes', 'cameras'].map((category, i) => ({
    externalId: `i${i}`,
    slug: `imp-${category}`,
    name: `Loves ${category}`,
    category,
    embedding: embeddingFor(100 + i),
  }));
  await writeFile(files.interests, interests.map((i) => JSON.stringify(i)).join('\n') + '\n');
  const listingHeader =
    'externalId,title,description,price,currency,category,sellerExternalId,status,embedding,createdAt';
  const listingRows = Array.from({ length: 8 }, (_, i) =>
    [
      `l${i}`,
      `Listing ${i}`,
      i === 0 ? 'Two lines,\nwith a comma' : '',
      `${10 + i}.50`,
      'EUR',
      ['shoes', 'bikes', 'cameras'][i % 3] ?? 'shoes',
      `u${i % 6}`,
      i === 7 ? 'sold' : 'active',
      JSON.stringify(embeddingFor(200 + i)),
      at(300),
    ]
      .map(csvCell)
      .join(','),
  );
  await writeFile(
    files.listings,
    [
      listingHeader,
      listingRows[0],
      listingRows[1],
      // The writer refuses this one (no such category): rejected, the rest of its batch retried.
      `l-nocat,Orphan,,5,USD,gardening,u0,active,,${at(10)}`,
      `l-badprice,Cheap,,-3,USD,shoes,u0,active,,${at(10)}`,
      ...listingRows.slice(2),
    ].join('\n') + '\n',
  );
  await writeFile(
    files.userInterests,
    [
      'user,interest,interestSlug,affinity,createdAt',
      `u0,i0,,0.9,${at(20)}`,
      `u0,,imp-bikes,,${at(20)}`,
      `u1,i2,,0.4,`,
      `u1,i9,,0.4,`, // unknown interest
      `u7,i0,,0.4,`, // unknown user
      `u2,i1,,1.5,`, // affinity out of range
    ].join('\n') + '\n',
  );
  const interactions: string[] = ['user,type,target,createdAt,weight'];
  const likeCounts: Record<string, number> = {};
  let likes = 0;
  for (let u = 0; u < 6; u += 1) {
    for (let l = 0; l < 8; l += 1) {
      if ((u + l) % 3 !== 0) continue;
      interactions.push(`u${u},like,l${l},${at(5 + l, u)},`);
      likeCounts[`l${l}`] = (likeCounts[`l${l}`] ?? 0) + 1;
      likes += 1;
    }
  }
  // A like sent twice counts once.
  interactions.push(`u0,like,l0,${at(5, 0)},`);
  const follows = [
    ['u0', 'u1'],
    ['u1', 'u0'],
    ['u2', 'u0'],
  ];
  for (const [a, b] of follows) interactions.push(`${a},follow,${b},${at(30)},`);
  interactions.push(`u3,follow,u3,${at(30)},`); // self-follow: rejected
  let signals = 0;
  for (let u = 0; u < 6; u += 1) {
    interactions.push(`u${u},view,l${u},${at(1, u)},2.5`);
    interactions.push(`u${u},click,l${u + 1},${at(2, u)},`);
    signals += 2;
  }
  interactions.push(`u0,view,l0,${at(1, 0)},2.5`); // the same view again: stored once
  interactions.push(`u4,view,l2,${at(120)},`, `u5,view,l3,${at(200)},`); // past retention: skipped
  interactions.push(`u5,like,l2,${at(120)},`); // likes are never too old
  likeCounts.l2 = (likeCounts.l2 ?? 0) + 1;
  likes += 1;
  interactions.push(`u0,like,l-none,${at(3)},`); // unknown listing
  interactions.push(`u0,poke,l1,${at(3)},`); // unknown type
  interactions.push(`u0,view,l1,,`); // no timestamp
  await writeFile(files.interactions, interactions.join('\n') + '\n');
  return {
    dir,
    files,
    expected: {
      likes,
      follows: follows.length,
      signals,
      skippedOld: 2,
      rejected: { categories: 1, users: 2, interests: 0, listings: 2, userInterests: 3, interactions: 4 },
      likeCounts,
    },
  };
}

/** Everything an import writes, in a comparable form (no generated ids, no wall-clock times). */
export async function snapshot(pool: pg.Pool): Promise<Record<string, unknown>> {
  const q = async (sql: string): Promise<unknown[]> => (await pool.query<Record<string, unknown>>(sql)).rows;
  return {
    categories: await q(`SELECT slug, name FROM categories ORDER BY slug`),
    profiles: await q(
      `SELECT external_id, handle, display_name, created_at, follower_count, following_count
       FROM profiles WHERE source IS NOT NULL ORDER BY external_id`,
    ),
    interests: await q(
      `SELECT external_id, slug, name, category_id, embedding::text FROM interest_catalog
       WHERE source IS NOT NULL ORDER BY external_id`,
    ),
    listings: await q(
      `SELECT external_id, title, description, price::text, currency, status, like_count, embedding::text
       FROM marketplace_listings WHERE source IS NOT NULL ORDER BY external_id`,
    ),
    userInterests: await q(
      `SELECT p.external_id AS user, i.slug, ui.affinity,
              -- A declaration without a time is stamped at import: only history is comparable.
              CASE WHEN ui.created_at < now() - interval '1 hour' THEN ui.created_at END AS created_at
       FROM user_interests ui
       JOIN profiles p USING (user_id) JOIN interest_catalog i ON i.id = ui.interest_id ORDER BY 1, 2`,
    ),
    likes: await q(
      `SELECT p.external_id AS user, l.external_id AS listing, k.created_at FROM likes k
       JOIN profiles p USING (user_id) JOIN marketplace_listings l ON l.id = k.listing_id ORDER BY 1, 2`,
    ),
    follows: await q(
      `SELECT a.external_id AS follower, b.external_id AS followee, f.created_at FROM follows f
       JOIN profiles a ON a.user_id = f.follower_id JOIN profiles b ON b.user_id = f.followee_id ORDER BY 1, 2`,
    ),
    signals: await q(
      `SELECT p.external_id AS user, s.kind, l.external_id AS listing, s.weight, s.created_at FROM intent_signals s
       JOIN profiles p USING (user_id) JOIN marketplace_listings l ON l.id = s.listing_id ORDER BY 1, 2, 3, 5`,
    ),
  };
}

/** The wall-clock columns an import touches: a re-run must leave them as they are. */
export async function updatedAts(pool: pg.Pool): Promise<unknown[]> {
  const { rows } = await pool.query<Record<string, unknown>>(
    `SELECT 'p' AS t, external_id, updated_at FROM profiles WHERE source IS NOT NULL
     UNION ALL SELECT 'l', external_id, updated_at FROM marketplace_listings WHERE source IS NOT NULL
     ORDER BY 1, 2`,
  );
  return rows;
}
