import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { SyntheticDataset } from '../embeddings/syntheticInteractions.js';
import type { ImportFiles } from '../import/runImport.js';

/**
 * The synthetic #16-shaped dataset (embeddings/syntheticInteractions.ts) as the bulk importer's files,
 * so the harness loads it like the outside evaluation loads its data: categories, users, one interest
 * per category (no vector: the train step derives it), active listings whose category is the item's
 * first, and the likes with their times. No declared interests: the harness derives them from train.
 */

export const SYNTHETIC_SOURCE = 'eval';

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
export const categorySlug = (k: number): string => `cat-${pad(k + 1, 2)}`;
export const userExternalId = (u: number): string => `u-${pad(u + 1, 6)}`;
export const listingExternalId = (i: number): string => `l-${pad(i + 1, 7)}`;

async function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  const stream = createWriteStream(file);
  for (const line of lines) if (!stream.write(`${line}\n`)) await once(stream, 'drain');
  stream.end();
  await once(stream, 'finish');
}

export async function writeSyntheticFiles(
  data: SyntheticDataset,
  dir: string,
): Promise<{ files: ImportFiles; categories: number }> {
  let categories = 0;
  for (const cats of data.itemCategories) for (const k of cats) categories = Math.max(categories, k + 1);
  // Listings exist before anyone likes them: a month before the first like.
  let first = Infinity;
  for (const t of data.time) first = Math.min(first, t);
  const createdAt = new Date((Number.isFinite(first) ? first : Date.now()) - 30 * 86_400_000).toISOString();
  const files: ImportFiles = {
    categories: path.join(dir, 'categories.csv'),
    users: path.join(dir, 'users.ndjson'),
    interests: path.join(dir, 'interests.ndjson'),
    listings: path.join(dir, 'listings.ndjson'),
    interactions: path.join(dir, 'interactions.csv'),
  };
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  await writeLines(files.categories!, [
    'slug,name',
    ...range(categories).map((k) => `${categorySlug(k)},Category ${k + 1}`),
  ]);
  await writeLines(
    files.users!,
    range(data.nUsers).map((u) =>
      JSON.stringify({ externalId: userExternalId(u), handle: `eval_${pad(u + 1, 6)}`, createdAt }),
    ),
  );
  await writeLines(
    files.interests!,
    range(categories).map((k) =>
      JSON.stringify({
        externalId: `int-${pad(k + 1, 2)}`,
        slug: `${categorySlug(k)}-interest`,
        name: `Interest ${k + 1}`,
        category: categorySlug(k),
      }),
    ),
  );
  await writeLines(
    files.listings!,
    range(data.nItems).map((i) =>
      JSON.stringify({
        externalId: listingExternalId(i),
        title: `Item ${i + 1}`,
        price: '10.00',
        currency: 'USD',
        category: categorySlug(data.itemCategories[i]![0]!),
        status: 'active',
        createdAt,
      }),
    ),
  );
  await writeLines(files.interactions!, [
    'user,type,target,createdAt,weight',
    ...range(data.userIndex.length).map(
      (e) =>
        `${userExternalId(data.userIndex[e]!)},like,${listingExternalId(data.itemIndex[e]!)},${new Date(data.time[e]!).toISOString()},`,
    ),
  ]);
  return { files, categories };
}
