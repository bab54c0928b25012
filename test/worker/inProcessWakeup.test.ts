import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { startInProcessWorker, type Worker } from '../../src/worker/startWorker.js';
import { graphql, sourceOf, type Operation } from '../support/graphql.js';

const LISTINGS = graphql('{ listings(first: 60) { edges { node { id popularity } } } }');
const LISTING = graphql('query L($id: ID!) { listing(id: $id) { popularity likeCount } }');
const LIKE = graphql('mutation Like($id: ID!) { likeListing(listingId: $id) { changed likeCount } }');

/** The consumers' poll interval here: far longer than any wait below, so only a wake-up can explain a fast drain. */
const POLL_MS = 60_000;

async function post<T>(url: string, operation: Operation<T>, variables = {}, authorization?: string) {
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

// No LISTEN on the embedded database: the gateway's write path wakes the in-process consumers itself.
describe('the in-process worker is woken by the gateway’s own enqueues', () => {
  let folder: string;
  let config: Config;
  let gateway: Gateway;
  let worker: Worker | undefined;
  let url: string;
  let authorization: string;
  const unliked: { id: string; popularity: number }[] = [];

  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'lodestar-wakeup-'));
    config = loadConfig({
      EMBEDDED_DATA_DIR: path.join(folder, 'pglite'),
      PORT: '0',
      WORKER_POLL_MS: String(POLL_MS),
      LOG_LEVEL: 'error',
    });
    gateway = await startGateway(config, pino({ level: 'silent' }));
    url = `${gateway.url}/graphql`;
    authorization = `Bearer ${gateway.demoTokens?.user}`;
    const { listings } = await post(url, LISTINGS);
    unliked.push(...listings.edges.map((e) => e.node));
  }, 120_000);

  afterAll(async () => {
    await worker?.stop(5000);
    await gateway?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  /** Likes the next listing the demo user had not liked; its popularity before the like. */
  async function likeOne(): Promise<{ id: string; popularity: number }> {
    for (;;) {
      const next = unliked.shift();
      if (!next) throw new Error('ran out of listings to like');
      if ((await post(url, LIKE, { id: next.id }, authorization)).likeListing.changed) return next;
    }
  }

  /** Popularity of `id` once it moved, or the last value seen after `ms`. */
  async function popularityWithin(id: string, before: number, ms: number): Promise<number> {
    const until = Date.now() + ms;
    for (;;) {
      const { listing } = await post(url, LISTING, { id });
      const now = listing?.popularity ?? before;
      if (now !== before || Date.now() > until) return now;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('without the wake-up a like waits for the poll (the control: this setup can fail)', async () => {
    // The same worker, not subscribed: it claims once at start, then sleeps for POLL_MS.
    const control = await startInProcessWorker(config, pino({ level: 'silent' }), {
      ...gateway,
      queueWakeups: undefined,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const liked = await likeOne();
      expect(await popularityWithin(liked.id, liked.popularity, 3000)).toBe(liked.popularity);
    } finally {
      await control.stop(5000);
    }
  }, 30_000);

  it('with it, a like is taken at once, well before the poll interval', async () => {
    worker = await startInProcessWorker(config, pino({ level: 'silent' }), gateway);
    // Its first claim at start has taken the control's leftover like; now it sleeps for POLL_MS.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const started = Date.now();
    const liked = await likeOne();
    expect(await popularityWithin(liked.id, liked.popularity, 10_000)).toBe(liked.popularity + 1);
    const ms = Date.now() - started;
    expect(ms).toBeLessThan(5000);
    // A second like while the consumer may be busy or asleep again: also taken without a poll.
    const again = await likeOne();
    expect(await popularityWithin(again.id, again.popularity, 10_000)).toBe(again.popularity + 1);
  }, 30_000);
});
