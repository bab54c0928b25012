import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect } from 'vitest';
import { embedFromInteractions } from '../../src/import/embedFromInteractions.js';
import { createProgress } from '../../src/import/progress.js';
import { refreshDerived } from '../../src/import/refreshDerived.js';
import { runImport, type ImportFiles, type ImportOptions } from '../../src/import/runImport.js';
import { embeddingFor, unique } from '../support/fixtures.js';
import { SUGGESTIONS } from '../support/feedHarness.js';
import { postGraphQL } from '../support/http.js';
import { test } from '../support/testFixtures.js';

/**
 * `--embed interactions` end to end (issue 15, item 4): a catalogue without embeddings and a history
 * with three clear latent groups (one per category), imported; the derived vectors must put each
 * listing next to its group, leave cold listings NULL, give interests their category's mean, let the
 * refresh fill profiles and candidates, and give a signed-in user SIMILAR suggestions from their group.
 */

const GROUPS = 3;
const USERS_PER_GROUP = 10;
const WARM_PER_GROUP = 24;
const COLD_PER_GROUP = 2;
const day = 86_400_000;

/** A small deterministic RNG (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

interface Dataset {
  files: ImportFiles;
  dir: string;
  slugs: string[];
}

async function writeDataset(now: number): Promise<Dataset> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lodestar-embed-'));
  const random = rng(42);
  const tag = unique('e').replace(/[^a-z0-9]/g, '');
  const slugs = Array.from({ length: GROUPS }, (_, g) => `${tag}-g${g}`);
  const at = (daysAgo: number) => new Date(now - daysAgo * day).toISOString();
  const files = {
    categories: path.join(dir, 'categories.csv'),
    users: path.join(dir, 'users.ndjson'),
    interests: path.join(dir, 'interests.ndjson'),
    listings: path.join(dir, 'listings.ndjson'),
    userInterests: path.join(dir, 'user-interests.csv'),
    interactions: path.join(dir, 'interactions.csv'),
  };
  await writeFile(files.categories, `slug,name\n${slugs.map((s) => `${s},${s}`).join('\n')}\n`);
  const users = Array.from({ length: GROUPS * USERS_PER_GROUP }, (_, i) => ({
    externalId: `u${i}`,
    handle: `${tag}_u${i}`.slice(0, 30),
    displayName: `User ${i}`,
  }));
  await writeFile(files.users, users.map((u) => JSON.stringify(u)).join('\n') + '\n');
  await writeFile(
    files.interests,
    slugs.map((s, g) => JSON.stringify({ externalId: `i${g}`, slug: s, name: s, category: s })).join('\n') +
      '\n',
  );
  const listings = slugs.flatMap((slug, g) =>
    Array.from({ length: WARM_PER_GROUP + COLD_PER_GROUP }, (_, k) => ({
      externalId: `g${g}-l${k}`,
      title: `Listing ${g}/${k}`,
      price: '10.00',
      category: slug,
    })),
  );
  // One listing with its own model's vector: it keeps it.
  listings.push({
    externalId: 'own',
    title: 'Own model',
    price: '10.00',
    category: slugs[0]!,
    ...{ embedding: embeddingFor(7) },
  });
  await writeFile(files.listings, listings.map((l) => JSON.stringify(l)).join('\n') + '\n');
  await writeFile(
    files.userInterests,
    'user,interestSlug,affinity\n' +
      users.map((u, i) => `${u.externalId},${slugs[i % GROUPS]},0.8`).join('\n') +
      '\n',
  );
  const lines = ['user,type,target,createdAt,weight'];
  const pick = (g: number) => `g${g}-l${Math.floor(random() * WARM_PER_GROUP)}`;
  for (const [i, u] of users.entries()) {
    const g = i % GROUPS;
    const liked = new Set<string>();
    while (liked.size < 10) liked.add(pick(g));
    for (const l of liked) lines.push(`${u.externalId},like,${l},${at(30)},`);
    for (let v = 0; v < 6; v += 1) lines.push(`${u.externalId},view,${pick(g)},${at(5 + v)},`);
    // Noise: one like outside the group.
    lines.push(`${u.externalId},like,${pick((g + 1) % GROUPS)},${at(20)},`);
    if (g === 0) lines.push(`${u.externalId},like,own,${at(10)},`);
  }
  await writeFile(files.interactions, lines.join('\n') + '\n');
  return { files, dir, slugs };
}

const quiet = createProgress({ write: () => undefined, tty: false });

function options(pool: pg.Pool, data: Dataset): ImportOptions {
  return {
    pool,
    source: 'embshop',
    files: data.files,
    rejectsPath: path.join(data.dir, 'rejects.ndjson'),
    batchSize: 200,
    retentionDays: 90,
    progress: quiet,
    log: () => undefined,
    beforeRefresh: async (p, log, { source, retentionCutoff }) => ({
      ...(await embedFromInteractions(p, { source, retentionCutoff }, log)),
    }),
    afterImport: refreshDerived,
  };
}

/** Everything the embedding and the refresh write, as text, to compare two states exactly. */
async function snapshot(pool: pg.Pool): Promise<string> {
  const text = async (sql: string) => JSON.stringify((await pool.query(sql)).rows);
  return [
    await text(`SELECT id, embedding::text, updated_at FROM marketplace_listings ORDER BY id`),
    await text(`SELECT id, embedding::text, popularity FROM interest_catalog ORDER BY id`),
    await text(`SELECT user_id, embedding::text, embedding_updated_at FROM profiles ORDER BY user_id`),
    await text(`SELECT * FROM interest_listing_candidates ORDER BY 1, 2`),
  ].join('\n');
}

describe('npm run import -- --embed interactions', () => {
  test('derives listing and interest vectors from the history, the refresh and the feed use them, a re-run changes nothing', async ({
    db,
    gateway,
    tokens,
  }) => {
    const pool = db.pool;
    const data = await writeDataset(Date.now());
    const first = await runImport(options(pool, data));
    expect(first.files.every((f) => f.rejected === 0)).toBe(true);
    expect(first.embedded).toMatchObject({
      listings: GROUPS * WARM_PER_GROUP + 1,
      embedded: GROUPS * WARM_PER_GROUP + 1,
      listingsWritten: GROUPS * WARM_PER_GROUP,
      listingsKept: 1,
      listingsCold: GROUPS * COLD_PER_GROUP,
      interestsWritten: GROUPS,
    });

    const { rows: listings } = await pool.query<{
      id: number;
      external_id: string;
      category: string;
      dims: number | null;
      norm: number | null;
    }>(
      `SELECT l.id, l.external_id, c.slug AS category, vector_dims(l.embedding) AS dims,
              vector_norm(l.embedding) AS norm
       FROM marketplace_listings l JOIN categories c ON c.id = l.category_id
       WHERE l.source = 'embshop' ORDER BY l.id`,
    );
    for (const l of listings) {
      const k = Number(/-l(\d+)$/.exec(l.external_id)?.[1] ?? -1);
      if (l.external_id === 'own') continue;
      if (k >= WARM_PER_GROUP) {
        expect(l.dims, `${l.external_id} is cold`).toBeNull();
      } else {
        expect(l.dims).toBe(384);
        expect(l.norm).toBeCloseTo(1, 5);
      }
    }
    // The own-model listing kept its vector.
    const { rows: own } = await pool.query<{ d: number }>(
      `SELECT embedding <-> $1::vector AS d FROM marketplace_listings WHERE source = 'embshop' AND external_id = 'own'`,
      [`[${embeddingFor(7).join(',')}]`],
    );
    expect(own[0]?.d).toBeLessThan(1e-6);

    // Nearest neighbours (cosine, among the derived listings) sit in the listing's own group.
    const { rows: neighbours } = await pool.query<{ same: number; total: number }>(
      `SELECT count(*) FILTER (WHERE n.category_id = l.category_id)::int AS same, count(*)::int AS total
       FROM marketplace_listings l
       CROSS JOIN LATERAL (SELECT o.category_id FROM marketplace_listings o
                            WHERE o.source = l.source AND o.id <> l.id AND o.embedding IS NOT NULL
                              AND o.external_id <> 'own'
                            ORDER BY o.embedding <=> l.embedding LIMIT 5) n
       WHERE l.source = 'embshop' AND l.embedding IS NOT NULL AND l.external_id <> 'own'`,
    );
    expect(neighbours[0]!.total).toBe(GROUPS * WARM_PER_GROUP * 5);
    expect(neighbours[0]!.same / neighbours[0]!.total).toBeGreaterThan(0.95);

    // Each interest: the normalised mean of its category's derived listings.
    const { rows: interests } = await pool.query<{ slug: string; d: number | null }>(
      `SELECT i.slug, i.embedding <-> (SELECT l2_normalize(sum(l.embedding)) FROM marketplace_listings l
                                        WHERE l.category_id = i.category_id AND l.external_id <> 'own') AS d
       FROM interest_catalog i WHERE i.source = 'embshop' ORDER BY i.slug`,
    );
    expect(interests).toHaveLength(GROUPS);
    for (const i of interests) expect(i.d).toBeLessThan(1e-5);

    // The refresh ran on the new vectors: profiles and candidates are filled.
    const { rows: filled } = await pool.query<{ profiles: number; candidates: number }>(
      `SELECT (SELECT count(*)::int FROM profiles WHERE source = 'embshop' AND embedding IS NOT NULL) AS profiles,
              (SELECT count(DISTINCT c.interest_id)::int FROM interest_listing_candidates c
                 JOIN interest_catalog i ON i.id = c.interest_id WHERE i.source = 'embshop') AS candidates`,
    );
    expect(filled[0]).toEqual({ profiles: GROUPS * USERS_PER_GROUP, candidates: GROUPS });
    expect(first.derived?.profile_embeddings).toBe(GROUPS * USERS_PER_GROUP);

    // A second run over the same files and history changes nothing.
    const before = await snapshot(pool);
    const second = await runImport(options(pool, data));
    expect(second.embedded).toMatchObject({
      listingsWritten: 0,
      listingsUnchanged: GROUPS * WARM_PER_GROUP,
      interestsWritten: 0,
    });
    expect(await snapshot(pool)).toBe(before);

    // A signed-in user of group 1 gets SIMILAR suggestions from group 1.
    const { rows: viewer } = await pool.query<{ user_id: string }>(
      `SELECT user_id FROM profiles WHERE source = 'embshop' AND external_id = 'u1'`,
    );
    const token = await tokens.user(viewer[0]!.user_id);
    const { rows: category } = await pool.query<{ id: number }>(`SELECT id FROM categories WHERE slug = $1`, [
      data.slugs[1],
    ]);
    const feed = await postGraphQL(gateway, SUGGESTIONS, { token, variables: { first: 10 } });
    expect(feed.body.errors).toBeUndefined();
    const edges = feed.body.data?.suggestions.edges ?? [];
    const similar = edges.filter((e) => e.node.source === 'SIMILAR');
    expect(feed.body.data?.suggestions.fallback?.reason).not.toBe('NO_PROFILE_EMBEDDING');
    expect(similar.length).toBeGreaterThan(0);
    // The page caps one category's share (FEED_CATEGORY_SHARE), so SIMILAR goes on past the group's
    // items once the cap is reached: the group's items must come first and score far above the rest.
    const inGroup = similar.filter((e) => e.node.listing.category.id === String(category[0]!.id));
    const outside = similar.filter((e) => e.node.listing.category.id !== String(category[0]!.id));
    expect(inGroup.length).toBeGreaterThanOrEqual(3);
    expect(similar[0]!.node.listing.category.id).toBe(String(category[0]!.id));
    const lowestIn = Math.min(...inGroup.map((e) => e.node.score));
    for (const e of outside) expect(e.node.score).toBeLessThan(lowestIn);

    // --embed-overwrite: the own-model listing gets its derived vector, which joins its category's
    // mean (that interest changes); every other vector is already the derived one and is not rewritten.
    const overwritten = await embedFromInteractions(
      pool,
      { source: 'embshop', retentionCutoff: new Date(Date.now() - 90 * day), overwrite: true },
      () => undefined,
    );
    expect(overwritten).toMatchObject({
      listingsWritten: 1,
      listingsUnchanged: GROUPS * WARM_PER_GROUP,
      listingsKept: 0,
      interestsWritten: 1,
    });
  });
});
