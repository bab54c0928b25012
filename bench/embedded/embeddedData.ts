import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrateUrl } from '../../src/db/migrator.js';
import { demoSeed, seedDemoDataIfEmpty } from '../../src/server/devSupport.js';

/**
 * The embedded phase's data: a fresh PGlite folder migrated and seeded exactly as `npm start` does on
 * first run (the demo data set), opened here in the bench process before the gateway takes it over
 * (PGlite is one process's), to pick the viewers, writers, listings and interests the load uses.
 */
export interface EmbeddedDataset {
  dataDir: string;
  seed: typeof demoSeed;
  seedSec: number;
  counts: { users: number; usersWithEmbedding: number; listings: number; interests: number; likes: number };
  /** Feed viewers: users with a profile embedding (full pages). */
  viewers: string[];
  /** The users whose writes keep the worker busy (none of them a viewer). */
  writers: string[];
  /** Active listings the writers like and view. */
  listings: number[];
  interests: number[];
}

async function onEmbedded<T>(
  dataDir: string,
  fn: (client: pg.Client, url: string) => Promise<T>,
): Promise<T> {
  const embedded = await startEmbeddedPostgres(dataDir);
  try {
    const client = new pg.Client({ connectionString: embedded.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await fn(client, embedded.url);
    } finally {
      await client.end();
    }
  } finally {
    await embedded.close();
  }
}

export async function prepareEmbeddedDataset(options: {
  viewers: number;
  writers: number;
}): Promise<EmbeddedDataset> {
  const folder = await mkdtemp(path.join(tmpdir(), 'lodestar-bench-embedded-'));
  const dataDir = path.join(folder, 'pglite');
  const started = performance.now();
  // Migrated and seeded before the client below connects: the seeder takes the one session to itself.
  const embedded = await startEmbeddedPostgres(dataDir);
  try {
    await migrateUrl(embedded.url);
    await seedDemoDataIfEmpty(embedded.url, pino({ level: 'silent' }));
  } finally {
    await embedded.close();
  }
  const seedSec = Math.round((performance.now() - started) / 100) / 10;
  return onEmbedded(dataDir, async (client) => {
    const ids = async <T>(sql: string, values: unknown[] = []) =>
      (await client.query<{ id: T }>(sql, values)).rows.map((r) => r.id);
    const users = await ids<string>(
      `SELECT user_id AS id FROM profiles WHERE embedding IS NOT NULL AND role = 'user' AND handle <> 'demo'
       ORDER BY user_id LIMIT $1`,
      [options.viewers + options.writers],
    );
    if (users.length < options.viewers + 1)
      throw new Error(`the demo data has only ${users.length} users with embeddings`);
    const viewers = users.slice(0, options.viewers);
    const writers = users.slice(options.viewers);
    const listings = await ids<number>(
      `SELECT id FROM marketplace_listings WHERE status = 'active' ORDER BY id`,
    );
    const interests = await ids<number>('SELECT id FROM interest_catalog ORDER BY id');
    const c = (
      await client.query<Record<keyof EmbeddedDataset['counts'], number>>(
        `SELECT (SELECT count(*)::int FROM profiles) AS users,
                (SELECT count(*)::int FROM profiles WHERE embedding IS NOT NULL) AS "usersWithEmbedding",
                (SELECT count(*)::int FROM marketplace_listings) AS listings,
                (SELECT count(*)::int FROM interest_catalog) AS interests,
                (SELECT count(*)::int FROM likes) AS likes`,
      )
    ).rows[0];
    if (!c) throw new Error('no counts');
    return { dataDir, seed: demoSeed, seedSec, counts: c, viewers, writers, listings, interests };
  });
}

/** What the worker did and how long each maintenance task held the connection, read once the gateway stopped. */
export interface EmbeddedAfter {
  events: Record<string, number>;
  discovery: Record<string, number>;
  /** Done events by kind. */
  doneByKind: Record<string, number>;
  maintenance: { task: string; lastMs: number }[];
}

export function readAfterRun(dataDir: string): Promise<EmbeddedAfter> {
  return onEmbedded(dataDir, async (client) => {
    const byStatus = async (table: string) =>
      Object.fromEntries(
        (
          await client.query<{ status: string; n: number }>(
            `SELECT status, count(*)::int AS n FROM ${table} GROUP BY status ORDER BY status`,
          )
        ).rows.map((r) => [r.status, r.n]),
      );
    const doneByKind = Object.fromEntries(
      (
        await client.query<{ kind: string; n: number }>(
          `SELECT kind, count(*)::int AS n FROM events_queue WHERE status = 'done' GROUP BY kind ORDER BY kind`,
        )
      ).rows.map((r) => [r.kind, r.n]),
    );
    const maintenance = (
      await client.query<{ task: string; lastMs: number }>(
        `SELECT task, round(last_ms::numeric, 1)::float8 AS "lastMs" FROM maintenance_runs ORDER BY last_ms DESC`,
      )
    ).rows;
    return {
      events: await byStatus('events_queue'),
      discovery: await byStatus('marketplace_discovery_queue'),
      doneByKind,
      maintenance,
    };
  });
}
