import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { withTransaction } from '../db/checkout.js';
import { seedDatabase } from '../db/seed/seedDatabase.js';
import { DEFAULT_SEED_OPTIONS } from '../db/seed/seedOptions.js';
import {
  describeSyntheticModel,
  syntheticInteractions,
  type SyntheticModel,
} from '../embeddings/syntheticInteractions.js';
import { runImport } from '../import/runImport.js';
import { insertUserInterestsSql } from '../import/sql.js';
import { interestsFromTrain, type LikeSplit } from './likeSplit.js';
import { databaseNameOf } from './scratchDatabase.js';
import { SYNTHETIC_SOURCE, categorySlug, listingExternalId, writeSyntheticFiles } from './syntheticFiles.js';

/** The evaluation's data on the scratch database, and the declared interests derived from train. */

export type DatasetSpec =
  | {
      kind: 'synthetic';
      users: number;
      items: number;
      seed: number;
      /** The latent-taste model's knobs (`DEFAULT_SYNTHETIC`'s where left out). */
      model?: Partial<SyntheticModel>;
    }
  | { kind: 'seed'; users: number; listings: number; seed: number }
  | { kind: 'database'; url: string };

/** user_interests rows per INSERT. */
const BATCH = 5000;

/** Loads the dataset; for synthetic data, also every category of each listing (the schema keeps one). */
export async function loadData(
  pool: pg.Pool,
  dataset: DatasetSpec,
  log: (line: string) => void,
): Promise<{ source: string; categoriesOfListing: ((id: number) => number[]) | null }> {
  if (dataset.kind === 'seed') {
    const summary = await seedDatabase(pool, {
      ...DEFAULT_SEED_OPTIONS,
      users: dataset.users,
      listings: dataset.listings,
      seed: dataset.seed,
    });
    log(
      `seeded ${summary.rows.profiles} users, ${summary.rows.marketplace_listings} listings, ${summary.rows.likes} likes`,
    );
    return { source: `seed (seed ${dataset.seed})`, categoriesOfListing: null };
  }
  if (dataset.kind === 'database')
    return { source: `copy of ${databaseNameOf(dataset.url)}`, categoriesOfListing: null };

  const data = syntheticInteractions({
    ...dataset.model,
    seed: dataset.seed,
    users: dataset.users,
    items: dataset.items,
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lodestar-eval-'));
  try {
    const { files } = await writeSyntheticFiles(data, dir);
    const summary = await runImport({
      pool,
      source: SYNTHETIC_SOURCE,
      files,
      rejectsPath: path.join(dir, 'rejects.ndjson'),
      batchSize: 1000,
      retentionDays: 36_500,
      progress: { start: () => undefined, update: () => undefined, finish: () => undefined },
      log,
    });
    const rejected = summary.files.reduce((n, f) => n + f.rejected, 0);
    if (rejected > 0) throw new Error(`the importer rejected ${rejected} synthetic rows (a harness bug)`);
    log(`imported the synthetic dataset in ${summary.elapsedMs} ms`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Every category of each item (the schema keeps only the first on the listing).
  const { rows: categories } = await pool.query<{ id: number; slug: string }>(
    `SELECT id, slug FROM categories`,
  );
  const categoryId = new Map(categories.map((c) => [c.slug, c.id]));
  const { rows: listings } = await pool.query<{ id: number; external_id: string }>(
    `SELECT id, external_id FROM marketplace_listings WHERE source = $1`,
    [SYNTHETIC_SOURCE],
  );
  const itemOfExternal = new Map(Array.from({ length: data.nItems }, (_, i) => [listingExternalId(i), i]));
  const byListing = new Map<number, number[]>();
  for (const l of listings) {
    const item = itemOfExternal.get(l.external_id);
    if (item === undefined) continue;
    byListing.set(
      l.id,
      data.itemCategories[item]!.flatMap((k) => {
        const id = categoryId.get(categorySlug(k));
        return id === undefined ? [] : [id];
      }),
    );
  }
  const knobs = describeSyntheticModel(dataset.model);
  return {
    source: `synthetic (seed ${dataset.seed}, ${dataset.users} users, ${dataset.items} items${knobs && `; ${knobs}`})`,
    categoriesOfListing: (id) => byListing.get(id) ?? [],
  };
}

/** Declared interests = the categories of each user's train likes by share, one interest per category. */
export async function writeTrainInterests(
  pool: pg.Pool,
  split: LikeSplit,
  categoriesOfListing: ((id: number) => number[]) | null,
): Promise<number> {
  let categoryOf: (id: number) => number[];
  if (categoriesOfListing) categoryOf = categoriesOfListing;
  else {
    const { rows } = await pool.query<{ id: number; category_id: number }>(
      `SELECT id, category_id FROM marketplace_listings`,
    );
    const map = new Map(rows.map((r) => [r.id, [r.category_id]]));
    categoryOf = (id) => map.get(id) ?? [];
  }
  // The category's interest: the lowest id among its interests.
  const { rows: interests } = await pool.query<{ id: number; category_id: number }>(
    `SELECT DISTINCT ON (category_id) id, category_id FROM interest_catalog ORDER BY category_id, id`,
  );
  const interestOf = new Map(interests.map((i) => [i.category_id, i.id]));
  const weights = interestsFromTrain(split.split.trainItems, (item) => categoryOf(split.listingIds[item]!));
  const users: string[] = [];
  const ids: number[] = [];
  const affinities: number[] = [];
  weights.forEach((shares, u) => {
    for (const [category, share] of shares) {
      const interest = interestOf.get(category);
      if (interest === undefined) continue;
      users.push(split.userIds[u]!);
      ids.push(interest);
      affinities.push(share);
    }
  });
  await withTransaction(pool, async (client) => {
    await client.query(`DELETE FROM user_interests`);
    for (let i = 0; i < users.length; i += BATCH) {
      await client.query(insertUserInterestsSql, [
        users.slice(i, i + BATCH),
        ids.slice(i, i + BATCH),
        affinities.slice(i, i + BATCH),
        users.slice(i, i + BATCH).map(() => null),
      ]);
    }
  });
  return users.length;
}
