import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { signToken } from '../src/auth/signToken.js';
import { loadConfig } from '../src/config/config.js';
import { migrateUrl } from '../src/db/migrator.js';
import {
  startOwnPostgres,
  startOwnReplica,
  type OwnPostgres,
  type OwnReplica,
} from '../test/support/ownPostgres.js';
import { startOwnRedisCluster, type OwnRedisCluster } from '../test/support/ownRedisCluster.js';
import { ensureBenchLogins, runSeedCli } from './shared/database.js';
import { buildGateway, startGatewayProcess, type GatewayProcess } from './shared/gatewayProcess.js';
import { createGraphqlClient } from './shared/http.js';
import { runLoad, type LoadResult, type Task } from './shared/load.js';
import { BENCH_GATEWAY_LOGIN, BENCH_JWT_SECRET, BENCH_WORKER_LOGIN } from './shared/settings.js';
import { cpuDelta, postgresCpu, processCpu, redisCpu, type CpuReading } from './shared/cpu.js';
import { takeDownLeftovers, TOPOLOGY_DIRS } from './topology/leftovers.js';
import { startWorkerProcess, type WorkerCounters, type WorkerProcess } from './workers/workerProcess.js';

/**
 * `npm run topology -- up|down|bench` (docs/scaling.md): the multi-node topology on loopback — a Postgres
 * primary with one streaming replica, a 6-node Redis Cluster (3 masters, 3 replicas), 2 gateways and 2
 * workers, every process as production runs it (built gateway and worker, least-privilege logins,
 * DATABASE_READ_URLS, REDIS_CLUSTER_NODES). `up` starts it and keeps it until Ctrl-C; `bench` starts it,
 * drives the feed, a listings page and likes through both gateways, measures the CPU seconds each
 * component spends per request (and the workers per item), the replica's lag under the write load and
 * two failovers (the replica killed, a Redis master killed), writes bench/results/topology-latest.md,
 * and takes everything down; `down` removes what a killed `up` or `bench` left behind. Two cores cannot show scale-out as throughput, so the numbers are costs:
 * what a capacity plan multiplies by a request rate.
 *
 * Knobs (environment): TOPOLOGY_LISTINGS (default 20000), TOPOLOGY_USERS (2000), TOPOLOGY_SEC (20, per
 * run), TOPOLOGY_CONCURRENCY (8, split across the gateways), TOPOLOGY_SKIP_BUILD=1.
 */

const env = process.env;
const LISTINGS = Number(env.TOPOLOGY_LISTINGS ?? 20_000);
const USERS = Number(env.TOPOLOGY_USERS ?? 2_000);
const RUN_SEC = Number(env.TOPOLOGY_SEC ?? 20);
const WARMUP_SEC = 3;
const CONCURRENCY = Number(env.TOPOLOGY_CONCURRENCY ?? 8);

interface Topology {
  primary: OwnPostgres;
  replica: OwnReplica;
  redis: OwnRedisCluster;
  gateways: GatewayProcess[];
  workers: WorkerProcess[];
  ownerUrl: string;
  /** Postmaster pids, for their CPU. */
  primaryPid: number;
  replicaPid: number;
  stop: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withPg<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The postmaster of the server behind `url`: the parent of this connection's backend (read while it lives). */
async function postmasterPid(url: string): Promise<number> {
  return withPg(url, async (c) => {
    const backend = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const stat = readFileSync(`/proc/${backend}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  });
}

async function up(): Promise<Topology> {
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  };
  try {
    if (env.TOPOLOGY_SKIP_BUILD !== '1') console.log(`build: ${(await buildGateway()).toFixed(1)} s`);
    const primary = await startOwnPostgres({ dirPrefix: TOPOLOGY_DIRS.primary });
    stops.push(() => primary.destroy());
    await withPg(primary.url(), (c) => c.query('CREATE DATABASE lodestar'));
    const ownerUrl = primary.url('lodestar');
    await migrateUrl(ownerUrl);
    let started = performance.now();
    await runSeedCli({
      name: 'lodestar',
      url: ownerUrl,
      dataset: { users: USERS, listings: LISTINGS, interests: 120, categories: 20, seed: 42 },
    });
    await ensureBenchLogins(ownerUrl);
    await withPg(ownerUrl, (c) => c.query('VACUUM ANALYZE'));
    console.log(
      `primary: port ${primary.port}, seeded ${LISTINGS} listings in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    started = performance.now();
    const replica = await startOwnReplica(primary, { dirPrefix: TOPOLOGY_DIRS.replica });
    stops.push(() => replica.destroy());
    console.log(
      `replica: port ${replica.port}, base backup and start in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const redis = await startOwnRedisCluster({ nodeTimeoutMs: 1000, dirPrefix: TOPOLOGY_DIRS.redis });
    stops.push(() => redis.destroy());
    console.log(`redis cluster: ${redis.nodes}`);

    const login = (name: string, port: number) => `postgresql://${name}@127.0.0.1:${port}/lodestar`;
    const common = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      JWT_SECRET: BENCH_JWT_SECRET,
      DATABASE_URL: login(BENCH_GATEWAY_LOGIN, primary.port),
      REDIS_CLUSTER_NODES: redis.nodes,
      REDIS_KEY_PREFIX: 'lodestar-topology:',
    };
    const gateways: GatewayProcess[] = [];
    for (let i = 0; i < 2; i += 1) {
      const gateway = await startGatewayProcess(
        {
          ...common,
          MIGRATE_ON_START: 'false',
          DATABASE_READ_URLS: login(BENCH_GATEWAY_LOGIN, replica.port),
          // One load generator address and a few hundred viewers: read budgets at their ceiling, and a
          // like limit no user of the run reaches (its cost is still paid on every like).
          RATE_LIMIT_READS_PER_MIN: '1000000',
          RATE_LIMIT_FEED_PER_MIN: '100000',
          RATE_LIMIT_LIKES_PER_MIN: '100000',
        },
        `gateway ${i + 1}`,
      );
      stops.push(() => gateway.stop(5000).then(() => undefined));
      gateways.push(gateway);
    }
    const workers: WorkerProcess[] = [];
    for (let i = 0; i < 2; i += 1) {
      const worker = await startWorkerProcess(
        {
          ...common,
          WORKER_DATABASE_URL: login(BENCH_WORKER_LOGIN, primary.port),
          WORKER_DISCOVERY: 'false',
          WORKER_MAINTENANCE: 'false',
        },
        `worker ${i + 1}`,
      );
      stops.push(() => worker.stop(5000).then(() => undefined));
      workers.push(worker);
    }
    console.log(`gateways: ${gateways.map((g) => g.url).join(', ')}; workers: ${workers.length}`);
    return {
      primary,
      replica,
      redis,
      gateways,
      workers,
      ownerUrl,
      primaryPid: await postmasterPid(ownerUrl),
      replicaPid: await postmasterPid(replica.url('lodestar')),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function cpuNow(t: Topology): Promise<CpuReading> {
  return {
    gateways: t.gateways.reduce((sum, g) => sum + processCpu(g.pid), 0),
    workers: t.workers.reduce((sum, w) => sum + processCpu(w.pid), 0),
    primary: postgresCpu(t.primaryPid),
    replica: postgresCpu(t.replicaPid),
    redis: await redisCpu(t.redis.ports),
  };
}

async function workerItems(t: Topology): Promise<number> {
  const counters = await Promise.all(
    t.workers.map((w) => w.counters().catch((): WorkerCounters => ({ items: {}, meanItemMs: null }))),
  );
  return counters.reduce((sum, c) => sum + (c.items.succeeded ?? 0), 0);
}

interface Measured {
  name: string;
  load: LoadResult;
  cpu: CpuReading;
  /** CPU milliseconds per request, by component. */
  perRequestMs: CpuReading;
}

/**
 * Runs `task` through both gateways (load worker w uses gateway w mod 2) and measures the CPU it cost,
 * from the start of the measured phase until `settle` (default: nothing) has resolved after it — the
 * likes wait there for the workers to finish the events they made.
 */
async function measure(
  t: Topology,
  name: string,
  task: Task,
  options: { warmupSec?: number; settle?: () => Promise<void> } = {},
): Promise<Measured> {
  let before: CpuReading = {};
  const load = await runLoad(task, {
    concurrency: CONCURRENCY,
    durationSec: RUN_SEC,
    warmupSec: options.warmupSec ?? WARMUP_SEC,
    onMeasureStart: async () => {
      before = await cpuNow(t);
    },
  });
  await options.settle?.();
  const cpu = cpuDelta(before, await cpuNow(t));
  const perRequestMs = Object.fromEntries(
    Object.entries(cpu).map(([k, v]) => [k, (v * 1000) / Math.max(1, load.requests)]),
  );
  console.log(
    `${name}: ${load.requestsPerSec.toFixed(1)} req/s, p50 ${load.latencyMs.p50.toFixed(1)} ms, errors ${load.errors}; CPU ms/request ${JSON.stringify(perRequestMs, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v))}`,
  );
  return { name, load, cpu, perRequestMs };
}

/**
 * Four clients run `task` in a loop; after 2 s `during` runs (a kill and a wait), then 2 s more: how many
 * requests failed and the slowest one, with what `during` returned.
 */
async function underLoad<T>(
  task: Task,
  during: () => Promise<T>,
): Promise<{ result: T; errors: number; requests: number; worstMs: number }> {
  let errors = 0;
  let requests = 0;
  let worstMs = 0;
  let running = true;
  let next = 0;
  const load = Promise.all(
    Array.from({ length: 4 }, async (_v, worker) => {
      while (running) {
        requests += 1;
        const started = performance.now();
        await task(next++, worker).catch(() => (errors += 1));
        worstMs = Math.max(worstMs, performance.now() - started);
      }
    }),
  );
  await sleep(2000);
  // Counted from the kill on.
  errors = 0;
  requests = 0;
  worstMs = 0;
  const result = await during();
  await sleep(2000);
  running = false;
  await load;
  return { result, errors, requests, worstMs };
}

async function bench(): Promise<void> {
  const t = await up();
  const report: string[] = [];
  try {
    const auth = loadConfig({
      NODE_ENV: 'test',
      JWT_SECRET: BENCH_JWT_SECRET,
      DATABASE_URL: t.ownerUrl,
    }).auth;
    const clients = t.gateways.map((g) => createGraphqlClient(g.url, CONCURRENCY));
    const viewers = await withPg(t.ownerUrl, async (c) =>
      (
        await c.query<{ user_id: string }>(
          `SELECT user_id FROM profiles WHERE embedding IS NOT NULL AND role = 'user' ORDER BY user_id LIMIT 200`,
        )
      ).rows.map((r) => r.user_id),
    );
    const tokens = await Promise.all(viewers.map((sub) => signToken(auth, { sub, role: 'user' })));
    const via = (build: (client: (typeof clients)[number]) => Task): Task => {
      const tasks = clients.map(build);
      return (index, worker) => tasks[worker % tasks.length]!(index, worker);
    };

    const feed = await measure(
      t,
      'feed',
      via((c) => c.feedTask(20, tokens, { shuffled: true })),
    );
    const listingsQuery =
      '{ listings(first: 20) { edges { node { id title price seller { handle } category { name } features { likeCount commentCount } } } } }';
    const listings = await measure(
      t,
      'listings',
      via((c) =>
        c.queryTask(listingsQuery, [''], (text) => {
          if (!text.includes('"edges"')) throw new Error(`no page: ${text.slice(0, 200)}`);
        }),
      ),
    );

    // Likes: each load worker is one user liking listings it has not liked yet, in order.
    const likers = await withPg(t.ownerUrl, async (c) => {
      const out: { token: string; listings: number[]; next: number }[] = [];
      for (let w = 0; w < CONCURRENCY; w += 1) {
        const user = viewers[(w * 7) % viewers.length]!;
        const { rows } = await c.query<{ id: number }>(
          `SELECT id FROM marketplace_listings WHERE status = 'active' AND id NOT IN (SELECT listing_id FROM likes WHERE user_id = $1) ORDER BY (id * 7919 + $2) % 100003`,
          [user, w],
        );
        out.push({
          token: await signToken(auth, { sub: user, role: 'user' }),
          listings: rows.map((r) => r.id),
          next: 0,
        });
      }
      return out;
    });
    const likeMutation = 'mutation ($id: ID!) { likeListing(listingId: $id) { changed } }';
    // Likes, with no warm-up: the CPU window runs from the first like until the workers have taken every
    // like.created event the run made, so each like carries its whole cost (request and effects).
    const itemsBefore = await workerItems(t);
    const made = { likes: 0 };
    const lagSamples: { seconds: number; bytes: number }[] = [];
    let sampling = true;
    const sampler = withPg(t.ownerUrl, async (c) => {
      while (sampling) {
        const { rows } = await c.query<{ seconds: number | null; bytes: string | null }>(
          `SELECT extract(epoch FROM replay_lag)::float8 AS seconds,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text AS bytes FROM pg_stat_replication`,
        );
        // replay_lag is null once the replica has been idle: nothing to count then.
        const row = rows[0];
        if (row && row.seconds !== null)
          lagSamples.push({ seconds: row.seconds, bytes: Number(row.bytes ?? 0) });
        await sleep(250);
      }
    });
    let drainMs = 0;
    const likes = await measure(
      t,
      'likes',
      via((c) => async (_index, worker) => {
        const liker = likers[worker]!;
        const id = liker.listings[liker.next];
        liker.next += 1;
        if (id === undefined) throw new Error('out of listings to like');
        const text = await c.post(
          JSON.stringify({ query: likeMutation, variables: { id: String(id) } }),
          liker.token,
        );
        if (!text.includes('"changed":true')) throw new Error(`like failed: ${text.slice(0, 200)}`);
        made.likes += 1;
      }),
      {
        warmupSec: 0,
        settle: async () => {
          sampling = false;
          await sampler;
          const started = performance.now();
          const deadline = Date.now() + 120_000;
          while ((await workerItems(t)) < itemsBefore + made.likes && Date.now() < deadline) await sleep(100);
          drainMs = performance.now() - started;
        },
      },
    );
    const items = (await workerItems(t)) - itemsBefore;
    const workerMsPerItem = ((likes.cpu.workers ?? 0) * 1000) / Math.max(1, items);

    const feedTask = via((c) => c.feedTask(20, tokens, { shuffled: true }));
    // Failover 1 (while the replica still serves): a Redis master dies under the feed; time until its replica serves its slots.
    const redisFailover = await underLoad(feedTask, async () => {
      const [victim] = await t.redis.masters();
      const killedAt = performance.now();
      await t.redis.kill(victim!);
      // Promoted: the killed master is no longer one, and every slot has a live master again.
      while (performance.now() - killedAt < 30_000) {
        const masters = await t.redis.masters().catch(() => [victim!]);
        if (!masters.includes(victim!) && masters.length === 3) break;
        await sleep(50);
      }
      await t.redis.waitHealthy(30_000);
      return performance.now() - killedAt;
    });

    // Failover 2: the replica dies under the feed; time until both gateways skip it.
    const replicaFailover = await underLoad(feedTask, async () => {
      const killedAt = performance.now();
      await t.replica.stopImmediateAsync();
      while (performance.now() - killedAt < 10_000) {
        const texts = await Promise.all(t.gateways.map((g) => fetch(g.metricsUrl).then((r) => r.text())));
        if (texts.every((text) => /^lodestar_db_replica_up\{[^}]*\} 0$/m.test(text))) {
          return performance.now() - killedAt;
        }
        await sleep(50);
      }
      return null;
    });
    for (const c of clients) c.close();
    // Bytes per row of the big tables (heap + TOAST, and their indexes), after the runs: what the plan scales.
    const sizes = await withPg(t.ownerUrl, async (c) => {
      await c.query('VACUUM ANALYZE');
      const { rows } = await c.query<{ name: string; rows: string; heap: string; indexes: string }>(
        // A partitioned table (the event logs) is the sum of its partitions.
        `SELECT coalesce(p.relname, c.relname) AS name, sum(greatest(c.reltuples, 0))::bigint::text AS rows,
                sum(pg_table_size(c.oid))::text AS heap, sum(pg_indexes_size(c.oid))::text AS indexes
           FROM pg_class c
           LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
           LEFT JOIN pg_class p ON p.oid = i.inhparent
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
            AND coalesce(p.relname, c.relname) IN ('marketplace_listings', 'profiles', 'likes', 'comments',
                              'follows', 'learning_events', 'intent_signals', 'user_interests', 'events_queue')
          GROUP BY 1
          ORDER BY sum(pg_total_relation_size(c.oid)) DESC`,
      );
      return rows.map((r) => ({
        name: r.name,
        rows: Number(r.rows),
        heap: Number(r.heap),
        indexes: Number(r.indexes),
      }));
    });
    const lagSorted = [...lagSamples].sort((a, b) => a.seconds - b.seconds);
    const lagBytes = [...lagSamples].map((s) => s.bytes).sort((a, b) => a - b);
    const fmt = (n: number | undefined, d = 2) => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(d));
    const components = ['gateways', 'workers', 'primary', 'replica', 'redis'];
    report.push(
      `# Topology (${new Date().toISOString()})`,
      '',
      `Primary + 1 streaming replica, 6-node Redis Cluster, 2 gateways, 2 workers on ${os.cpus().length} cores; ` +
        `${LISTINGS} listings, ${USERS} users; ${RUN_SEC} s per run after ${WARMUP_SEC} s warm-up, concurrency ${CONCURRENCY} ` +
        `split across both gateways; load average ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}.`,
      '',
      `| run | req/s | p50 ms | errors | ${components.map((c) => `${c} CPU ms/req`).join(' | ')} |`,
      `|---|---|---|---|${components.map(() => '---').join('|')}|`,
      ...[feed, listings, likes].map(
        (m) =>
          `| ${m.name} | ${fmt(m.load.requestsPerSec, 1)} | ${fmt(m.load.latencyMs.p50)} | ${m.load.errors} | ${components.map((c) => fmt(m.perRequestMs[c])).join(' | ')} |`,
      ),
      '',
      `Likes are measured with no warm-up, from the first like until the workers had taken every like.created event (${fmt(drainMs / 1000, 1)} s of drain after the run), so a like's row holds its effects too. Workers: ${items} items, ${fmt(workerMsPerItem)} CPU ms per item. In the feed and listings rows the workers' column is their idle polling spread over the requests.`,
      `Replica lag under the likes load (pg_stat_replication, every 250 ms, ${lagSamples.length} samples): replay_lag p50 ${fmt((lagSorted[Math.floor(lagSorted.length / 2)]?.seconds ?? NaN) * 1000, 1)} ms, max ${fmt((lagSorted.at(-1)?.seconds ?? NaN) * 1000, 1)} ms; bytes behind p50 ${lagBytes[Math.floor(lagBytes.length / 2)] ?? '—'}, max ${lagBytes.at(-1) ?? '—'}.`,
      `Replica stopped (pg_ctl -m immediate) under the feed (4 clients), after the Redis failover: both gateways skipped it ${replicaFailover.result === null ? 'not within 10 s' : `${fmt(replicaFailover.result, 0)} ms`} after the kill; ${replicaFailover.errors} of ${replicaFailover.requests} requests from the kill on failed, the slowest took ${fmt(replicaFailover.worstMs, 0)} ms.`,
      `Redis master killed under the feed (4 clients, cluster-node-timeout 1 s): its replica promoted and every slot served ${fmt(redisFailover.result, 0)} ms after the kill; ${redisFailover.errors} of ${redisFailover.requests} requests from the kill on failed, the slowest took ${fmt(redisFailover.worstMs, 0)} ms.`,
    );
    report.push(
      '',
      '| table | rows | heap + TOAST bytes/row | index bytes/row |',
      '|---|---|---|---|',
      ...sizes.map(
        (z) =>
          `| ${z.name} | ${z.rows} | ${z.rows > 0 ? Math.round(z.heap / z.rows) : '—'} | ${z.rows > 0 ? Math.round(z.indexes / z.rows) : '—'} |`,
      ),
    );
    const text = report.join('\n');
    console.log(`\n${text}`);
    writeFileSync(new URL('results/topology-latest.md', import.meta.url), `${text}\n`);
  } finally {
    await t.stop();
  }
}

async function main(): Promise<void> {
  const command = process.argv[2];
  if (command === 'up') {
    const t = await up();
    console.log('topology up; Ctrl-C takes it down');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await t.stop();
    return;
  }
  if (command === 'bench') {
    await bench();
    return;
  }
  if (command === 'down') {
    const done = takeDownLeftovers();
    console.log(done.length > 0 ? done.join('\n') : 'nothing of a topology is left');
    return;
  }
  console.error('usage: npm run topology -- up|down|bench');
  process.exitCode = 2;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
