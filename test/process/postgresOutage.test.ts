import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/signToken.js';
import { loadConfig } from '../../src/config/config.js';
import { migrateUrl } from '../../src/db/migrator.js';
import { insertCategory, insertListing, insertProfile } from '../support/fixtures.js';
import { testJwtSecret } from '../support/gateway.js';
import {
  killGatewayProcesses,
  listeningUrl,
  startGatewayProcess,
  type GatewayProcess,
} from '../support/process.js';
import { ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from '../support/ownPostgres.js';
import {
  killWorkerProcesses,
  startWorkerProcess,
  waitForWorkerLog,
  type WorkerProcess,
} from '../support/workerHarness.js';

const WRITERS = 4;
const READERS = 2;
const LISTINGS_PER_WRITER = 400;
const OUTAGE_MS = 4000;

interface Attempt {
  user: number;
  listingId: number;
  key: string;
}

interface Outcome {
  /** When the request started and when its answer (or failure) came, in ms since the load began. */
  at: number;
  end: number;
  kind: 'write' | 'read';
  ok: boolean;
  status: number;
  codes: string[];
  retryAfter: string | null;
  retryAfterMs: unknown[];
  /** fetch itself failed (the gateway did not answer at all). */
  networkError?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Postgres dies (pg_ctl -m immediate) under concurrent likes and feed reads against a real gateway
 * process and a real worker process, stays away a few seconds and comes back: both processes live on,
 * requests in the outage get UNAVAILABLE with Retry-After, /readyz is 503 during it and 200 after,
 * every acknowledged like is stored exactly once with exactly one like.created event, and both
 * processes serve again without a restart.
 */
describe.skipIf(!ownPostgresAvailable())('Postgres stopping and starting under load', () => {
  let server: OwnPostgres;
  let gateway: GatewayProcess;
  let worker: WorkerProcess;
  let graphqlUrl: string;
  let owner: pg.Pool;
  const users: string[] = [];
  const tokens: string[] = [];
  const listings: number[][] = [];

  beforeAll(async () => {
    server = await startOwnPostgres();
    const admin = new pg.Client({ connectionString: server.url() });
    admin.on('error', () => undefined);
    await admin.connect();
    await admin.query('CREATE DATABASE lodestar');
    await admin.end();
    const url = server.url('lodestar');
    await migrateUrl(url);
    owner = new pg.Pool({ connectionString: url, max: 4 });
    owner.on('error', () => undefined);
    // Least-privilege logins, as production runs them (no superuser login for either process).
    await owner.query('CREATE ROLE lodestar_test_gateway LOGIN IN ROLE lodestar_app');
    await owner.query('CREATE ROLE lodestar_test_worker LOGIN IN ROLE lodestar_worker');
    const categoryId = await insertCategory(owner, 'outage');
    const auth = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, JWT_SECRET: testJwtSecret }).auth;
    for (let i = 0; i < WRITERS; i += 1) {
      const userId = await insertProfile(owner, { handle: `outage_${i}` });
      users.push(userId);
      tokens.push(await signToken(auth, { sub: userId, role: 'user' }));
      const ids: number[] = [];
      const { rows } = await owner.query<{ id: number }>(
        `INSERT INTO marketplace_listings (category_id, title, price, status)
         SELECT $1, 'outage ' || g, 10, 'active' FROM generate_series(1, $2) g RETURNING id`,
        [categoryId, LISTINGS_PER_WRITER],
      );
      for (const row of rows) ids.push(row.id);
      listings.push(ids);
    }
    await insertListing(owner, { categoryId });
    await owner.query('ANALYZE');

    const at = (login: string) => `postgresql://${login}@127.0.0.1:${server.port}/lodestar`;
    gateway = startGatewayProcess({
      NODE_ENV: 'test',
      DATABASE_URL: at('lodestar_test_gateway'),
      JWT_SECRET: testJwtSecret,
      RATE_LIMITS_ENABLED: 'false',
      DATABASE_POOL_MAX: '8',
    });
    worker = startWorkerProcess({
      WORKER_DATABASE_URL: at('lodestar_test_worker'),
      WORKER_POLL_MS: '200',
      WORKER_LEASE_MS: '3000',
      WORKER_MAINTENANCE: 'true',
    });
    graphqlUrl = await listeningUrl(gateway);
    await waitForWorkerLog(worker, 'Lodestar worker is running');
  }, 240_000);

  afterAll(async () => {
    killGatewayProcesses();
    killWorkerProcesses();
    await owner?.end().catch(() => undefined);
    server?.destroy();
  });

  it('both processes survive, failures are UNAVAILABLE with Retry-After, /readyz follows, every acknowledged like is stored once', async () => {
    const base = new URL(graphqlUrl);
    const readyzUrl = new URL('/readyz', base).toString();
    const outcomes: Outcome[] = [];
    const readyz: { at: number; status: number }[] = [];
    const acknowledged = new Map<string, Attempt>();
    const failedWrites: Attempt[] = [];
    let running = true;
    const t0 = Date.now();

    async function post(kind: Outcome['kind'], token: string, query: string, variables: object) {
      const at = Date.now() - t0;
      try {
        const response = await fetch(graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(15_000),
        });
        const body = (await response.json()) as {
          data?: Record<string, unknown> | null;
          errors?: { extensions?: { code?: string; retryAfterMs?: unknown } }[];
        };
        const errors = body.errors ?? [];
        const outcome: Outcome = {
          at,
          end: Date.now() - t0,
          kind,
          ok: errors.length === 0,
          status: response.status,
          codes: errors.map((e) => e.extensions?.code ?? 'NONE'),
          retryAfter: response.headers.get('retry-after'),
          retryAfterMs: errors.map((e) => e.extensions?.retryAfterMs),
        };
        outcomes.push(outcome);
        return { outcome, data: body.data };
      } catch (error) {
        const outcome: Outcome = {
          at,
          end: Date.now() - t0,
          kind,
          ok: false,
          status: 0,
          codes: [],
          retryAfter: null,
          retryAfterMs: [],
          networkError: String(error),
        };
        outcomes.push(outcome);
        return { outcome, data: undefined };
      }
    }

    const likeQuery = `mutation Like($id: ID!, $key: String) {
      likeListing(listingId: $id, idempotencyKey: $key) { changed likeCount }
    }`;
    const writer = async (user: number) => {
      for (const listingId of listings[user] ?? []) {
        if (!running) return;
        const attempt = { user, listingId, key: `outage-${user}-${listingId}` };
        // A client that was told UNAVAILABLE retries the same write with the same key until it is
        // acknowledged (how the Retry-After contract is meant to be used); fast refusals during the
        // outage must not use up the writer's listings before Postgres is back.
        for (;;) {
          const { outcome } = await post('write', tokens[user] ?? '', likeQuery, {
            id: String(listingId),
            key: attempt.key,
          });
          if (outcome.ok) {
            acknowledged.set(attempt.key, attempt);
            break;
          }
          if (!failedWrites.includes(attempt)) failedWrites.push(attempt);
          if (!running) return;
          await sleep(50);
        }
      }
    };
    const reader = async (user: number) => {
      while (running) {
        await post(
          'read',
          tokens[user] ?? '',
          `{ suggestions(first: 5) { edges { node { listing { id likeCount } } } }
             listings(first: 5) { edges { node { id likeCount } } } }`,
          {},
        );
      }
    };
    const probe = async () => {
      while (running) {
        const at = Date.now() - t0;
        const status = await fetch(readyzUrl, { signal: AbortSignal.timeout(10_000) }).then(
          (r) => r.status,
          () => 0,
        );
        readyz.push({ at, status });
        await sleep(100);
      }
    };

    const load = [
      ...Array.from({ length: WRITERS }, (_, i) => writer(i)),
      ...Array.from({ length: READERS }, (_, i) => reader(i)),
      probe(),
    ];
    await sleep(2000);
    const stoppedAt = Date.now() - t0;
    server.stopImmediate();
    const stopReturnedAt = Date.now() - t0;
    await sleep(OUTAGE_MS);
    const startingAt = Date.now() - t0;
    server.start();
    const startedAt = Date.now() - t0;
    // Keep the load on until writes have succeeded again for a while (or give up after 30 s).
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const after = outcomes.filter((o) => o.kind === 'write' && o.ok && o.at > startedAt);
      if (after.length >= 20) break;
      await sleep(200);
    }
    await sleep(1000);
    running = false;
    await Promise.all(load);

    // Both processes are alive and were never restarted.
    expect(gateway.child.exitCode, gateway.output().slice(-3000)).toBeNull();
    expect(worker.child.exitCode, worker.output().slice(-3000)).toBeNull();
    expect(gateway.output()).not.toMatch(/Unhandled|uncaught/i);

    // Every failure is a clean UNAVAILABLE with Retry-After and retryAfterMs; the gateway always answered.
    const failures = outcomes.filter((o) => !o.ok);
    expect(failures.filter((o) => o.networkError)).toEqual([]);
    const notUnavailable = failures.filter((o) => o.codes.some((code) => code !== 'UNAVAILABLE'));
    expect(notUnavailable).toEqual([]);
    expect(failures.filter((o) => o.retryAfter !== '2')).toEqual([]);
    expect(failures.filter((o) => o.retryAfterMs.some((ms) => ms !== 2000))).toEqual([]);
    expect(failures.filter((o) => o.kind === 'write' && o.status !== 503)).toEqual([]);
    expect(failures.length).toBeGreaterThan(0);

    // /readyz: 503 while Postgres is away, 200 again after it is back.
    const duringOutage = readyz.filter((r) => r.at > stopReturnedAt + 200 && r.at < startingAt);
    expect(duringOutage.length).toBeGreaterThan(10);
    expect(duringOutage.filter((r) => r.status !== 503)).toEqual([]);
    const lastReadyz = readyz.at(-1);
    expect(lastReadyz?.status).toBe(200);

    // Writes succeed again after the restart, without restarting the gateway.
    const writesAfter = outcomes.filter((o) => o.kind === 'write' && o.ok && o.at > startedAt);
    expect(writesAfter.length).toBeGreaterThanOrEqual(20);
    const readsAfter = outcomes.filter((o) => o.kind === 'read' && o.ok && o.at > startedAt);
    expect(readsAfter.length).toBeGreaterThan(0);

    // Every acknowledged like is stored, once, with exactly one like.created event; counters agree.
    const { rows: stored } = await owner.query<{ user_id: string; listing_id: number; n: number }>(
      'SELECT user_id, listing_id, count(*)::int AS n FROM likes GROUP BY user_id, listing_id',
    );
    const storedKeys = new Set(stored.map((r) => `${r.user_id}:${r.listing_id}`));
    const missing = [...acknowledged.values()].filter(
      (a) => !storedKeys.has(`${users[a.user] ?? ''}:${a.listingId}`),
    );
    expect(missing).toEqual([]);
    expect(stored.filter((r) => r.n !== 1)).toEqual([]);
    const { rows: events } = await owner.query<{ listing_id: string; user_id: string; n: number }>(
      `SELECT payload->>'listingId' AS listing_id, payload->>'userId' AS user_id, count(*)::int AS n
         FROM events_queue WHERE kind = 'like.created' GROUP BY 1, 2`,
    );
    expect(events.filter((e) => e.n !== 1)).toEqual([]);
    expect(events.length).toBe(stored.length);
    const { rows: drift } = await owner.query<{ id: number }>(
      `SELECT l.id FROM marketplace_listings l
        WHERE l.like_count <> (SELECT count(*) FROM likes k WHERE k.listing_id = l.id)`,
    );
    expect(drift).toEqual([]);

    // The worker serves again without a restart: every like.created is done (leases of items it held
    // when Postgres died expire and are claimed again).
    const drainDeadline = Date.now() + 60_000;
    let open = -1;
    while (Date.now() < drainDeadline) {
      open = (
        await owner.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM events_queue WHERE kind = 'like.created' AND status <> 'done'`,
        )
      ).rows[0]!.n;
      if (open === 0) break;
      await sleep(500);
    }
    expect(open, worker.output().slice(-3000)).toBe(0);
    expect(worker.child.exitCode).toBeNull();

    // A retry of each failed write with its idempotency key lands once (no second like, no second event).
    for (const attempt of failedWrites) {
      const { outcome } = await post('write', tokens[attempt.user] ?? '', likeQuery, {
        id: String(attempt.listingId),
        key: attempt.key,
      });
      expect(outcome.codes).toEqual([]);
    }
    const { rows: after } = await owner.query<{ likes: number; events: number }>(
      `SELECT (SELECT count(*) FROM likes)::int AS likes,
              (SELECT count(*) FROM events_queue WHERE kind = 'like.created')::int AS events`,
    );
    const expected = new Set([...acknowledged.keys(), ...failedWrites.map((a) => a.key)]).size;
    expect(after[0]).toEqual({ likes: expected, events: expected });

    const firstFailure = Math.min(...failures.map((o) => o.end));
    const lastFailure = Math.max(...failures.map((o) => o.end));
    const firstWriteAfter = Math.min(...writesAfter.map((o) => o.end));
    const ready200After = readyz.find((r) => r.at > startedAt && r.status === 200)?.at ?? NaN;
    const summary = {
      requests: outcomes.length,
      writes: outcomes.filter((o) => o.kind === 'write').length,
      reads: outcomes.filter((o) => o.kind === 'read').length,
      failures: failures.length,
      failureStatuses: [...new Set(failures.map((o) => o.status))],
      acknowledged: acknowledged.size,
      storedAtEnd: stored.length,
      storedNotAcknowledged: stored.length - acknowledged.size,
      retriedFailedWrites: failedWrites.length,
      readyz503DuringOutage: duringOutage.length,
      pgDownMs: startedAt - stoppedAt,
      firstFailureAfterStopMs: firstFailure - stoppedAt,
      lastFailureAfterStartMs: lastFailure - startedAt,
      firstWriteOkAfterStartMs: firstWriteAfter - startedAt,
      readyz200AfterStartMs: ready200After - startedAt,
    };
    console.log(`postgres outage: ${JSON.stringify(summary)}`);
  }, 240_000);
});
