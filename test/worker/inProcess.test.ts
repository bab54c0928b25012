import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createSharedRolePool } from '../../src/db/checkout.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { startInProcessWorker, type Worker } from '../../src/worker/startWorker.js';
import { graphql, sourceOf, type Operation } from '../support/graphql.js';

const LISTINGS = graphql('{ listings(first: 60) { edges { node { id popularity category { slug } } } } }');
const LISTING = graphql('query L($id: ID!) { listing(id: $id) { popularity likeCount } }');
const LIKE = graphql('mutation Like($id: ID!) { likeListing(listingId: $id) { changed likeCount } }');
const ME = graphql('{ me { handle interests { affinity interest { category { slug } } } } }');

async function post<T>(
  url: string,
  operation: Operation<T>,
  variables: Record<string, unknown> = {},
  authorization?: string,
): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query: sourceOf(operation), variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  if (!body.data) throw new Error('no data');
  return body.data;
}

/** Polls `probe` until it returns a value, for at most `ms`. */
async function eventually<T>(ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`nothing within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// What `npm start` runs without DATABASE_URL: the gateway on PGlite with the worker in its process.
describe('the worker in the gateway process on the embedded default', () => {
  let folder: string;
  let config: Config;
  let gateway: Gateway;
  let worker: Worker;
  /** Worker-side reads: the gateway's shared session, switched per transaction as the worker's are. */
  let asWorker: pg.Pool;

  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'lodestar-inprocess-'));
    config = loadConfig({
      EMBEDDED_DATA_DIR: path.join(folder, 'pglite'),
      PORT: '0',
      WORKER_POLL_MS: '200',
      LOG_LEVEL: 'error',
    });
    const logger = pino({ level: 'silent' });
    gateway = await startGateway(config, logger);
    worker = await startInProcessWorker(config, logger, gateway);
    asWorker = createSharedRolePool(gateway.db.pool, config.worker.role, { 'lodestar.role': 'service' });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop(5000);
    await gateway?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  it('is on by default without DATABASE_URL, and off with it', () => {
    expect(config.worker.inProcess).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgresql://x@127.0.0.1/x' }).worker.inProcess).toBe(false);
    expect(loadConfig({ WORKER_IN_PROCESS: 'false' }).worker.inProcess).toBe(false);
  });

  it('a like is followed within seconds by the popularity change and the interest reinforcement; discovery runs', async () => {
    const url = `${gateway.url}/graphql`;
    const demo = gateway.demoTokens?.user;
    expect(demo).toBeDefined();
    const authorization = `Bearer ${demo}`;
    // The first maintenance round (interest decay among it) is over before affinities are compared.
    await eventually(20_000, async () => {
      const { rows } = await asWorker.query<{ task: string }>('SELECT task FROM maintenance_runs', []);
      return rows.some((r) => r.task === 'rebuild_outgrown_vector_indexes') ? rows : undefined;
    });
    const interests = async () => (await post(url, ME, {}, authorization)).me?.interests ?? [];
    const growable = new Set(
      (await interests()).filter((i) => i.affinity < 0.9).map((i) => i.interest.category.slug),
    );
    const affinityIn = async (slug: string) =>
      (await interests())
        .filter((i) => i.interest.category.slug === slug)
        .reduce((sum, i) => sum + i.affinity, 0);

    // A listing in a category of the demo user's interests, not liked yet: its like is counted (changed)
    // and enqueues like.created, which reinforces those interests.
    const { listings } = await post(url, LISTINGS);
    let liked: { id: string; popularity: number; category: { slug: string } } | undefined;
    let affinityBefore = 0;
    for (const { node } of listings.edges) {
      if (!growable.has(node.category.slug)) continue;
      affinityBefore = await affinityIn(node.category.slug);
      const like = await post(url, LIKE, { id: node.id }, authorization);
      if (like.likeListing.changed) {
        liked = node;
        break;
      }
    }
    if (!liked) throw new Error('no listing of the first page to like in a category of the demo interests');
    const { id, popularity, category } = liked;

    const after = await eventually(10_000, async () => {
      const { listing } = await post(url, LISTING, { id });
      return listing && listing.popularity > popularity ? listing : undefined;
    });
    expect(after.popularity).toBe(popularity + 1);
    expect(await affinityIn(category.slug)).toBeGreaterThan(affinityBefore);
    // The reinforcement asks for the profile embedding's recompute: done at once in the handler's
    // transaction, or queued for when the per-user debounce allows it.
    const asService = createSharedRolePool(gateway.db.pool, 'lodestar_service', {
      'lodestar.role': 'service',
    });
    const { rows: recomputed } = await asService.query<{ recent: boolean }>(
      `SELECT embedding_updated_at >= now() - interval '1 minute' AS recent FROM profiles WHERE handle = 'demo'`,
      [],
    );
    const { rows: queued } = await asWorker.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events_queue WHERE kind = 'profile.recompute' AND status = 'queued'`,
      [],
    );
    expect(recomputed[0]?.recent === true || (queued[0]?.n ?? 0) > 0).toBe(true);

    const done = await eventually(20_000, async () => {
      const { rows } = await asWorker.query<{ events: number; discovery: number }>(
        `SELECT (SELECT count(*)::int FROM events_queue WHERE status = 'done') AS events,
                (SELECT count(*)::int FROM marketplace_discovery_queue WHERE status = 'done') AS discovery`,
        [],
      );
      const row = rows[0];
      return row && row.events > 0 && row.discovery > 0 ? row : undefined;
    });
    expect(done.discovery).toBeGreaterThan(0);
    const { rows: ran } = await asWorker.query<{ task: string }>('SELECT task FROM maintenance_runs', []);
    expect(ran.map((r) => r.task)).toContain('enqueue_gap_discovery');
    expect(ran.map((r) => r.task)).not.toContain('measure_vector_recall');
  }, 60_000);

  it("leaves the shared session in the gateway's role: lodestar_app, and `me` and RLS still work", async () => {
    const who = `SELECT current_user AS role, current_setting('lodestar.role', true) AS identity`;
    const inWorker = (await asWorker.query<{ role: string; identity: string }>(who, [])).rows[0];
    expect(inWorker).toEqual({ role: 'lodestar_worker', identity: 'service' });
    // A failed worker statement rolls back its switch too.
    await expect(asWorker.query('SELECT 1/0', [])).rejects.toThrow();
    const inGateway = (await gateway.db.pool.query<{ role: string; identity: string | null }>(who)).rows[0];
    expect(inGateway?.role).toBe('lodestar_app');
    expect(inGateway?.identity).not.toBe('service');

    const url = `${gateway.url}/graphql`;
    const me = await post(url, ME, {}, `Bearer ${gateway.demoTokens?.user}`);
    expect(me.me?.handle).toBe('demo');
    // RLS: without a viewer, no user's private rows are visible to the gateway's role.
    const { rows } = await gateway.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM user_interests',
    );
    expect(rows[0]?.n).toBe(0);
  });

  it('requests first: the worker hands the connection on to requests that queued while it waited', async () => {
    const shared = gateway.db.pool;
    const settings = { 'lodestar.role': 'service' };
    const polite = createSharedRolePool(shared, config.worker.role, settings, { giveWayMs: 5000 });
    const plain = createSharedRolePool(shared, config.worker.role, settings);
    const orderWith = async (worker: pg.Pool) => {
      const order: string[] = [];
      const held = await shared.connect(); // the one connection is busy (a request in progress)
      const work = worker.query('SELECT 1', []).then(() => order.push('worker'));
      await new Promise((resolve) => setTimeout(resolve, 50)); // the worker queued first
      const request = shared.query('SELECT 1').then(() => order.push('request'));
      held.release();
      await Promise.all([work, request]);
      return order;
    };
    expect(await orderWith(plain)).toEqual(['worker', 'request']);
    expect(await orderWith(polite)).toEqual(['request', 'worker']);
  });

  it('stops: in-flight items finish, nothing is left leased', async () => {
    await worker.stop(5000);
    const { rows } = await asWorker.query<{ n: number }>(
      `SELECT (SELECT count(*)::int FROM events_queue WHERE status = 'leased')
            + (SELECT count(*)::int FROM marketplace_discovery_queue WHERE status = 'processing') AS n`,
      [],
    );
    expect(rows[0]?.n).toBe(0);
    const role = (await gateway.db.pool.query<{ r: string }>('SELECT current_user AS r')).rows[0];
    expect(role?.r).toBe('lodestar_app');
  });
});
