/**
 * The reads phase (issue #17, target 1): the same five anonymous reads on Lodestar's gateway and on
 * PostGraphile 4.14 (bench/peer/), both on the bench database as the same login and role with the same
 * identity settings, interleaved in rounds at c=1 and the high concurrency; medians of the slices.
 */
import os from 'node:os';
import type { Config } from '../../src/config/config.js';
import { withClient } from '../shared/database.js';
import { startGatewayProcess, type GatewayProcess } from '../shared/gatewayProcess.js';
import { createGraphqlClient } from '../shared/http.js';
import { runRounds, toLoadResult, type RoundTask } from '../shared/load.js';
import type { BenchSettings } from '../shared/settings.js';
import { ensurePeerInstalled, startPeerProcess, type PeerProcess } from './peerProcess.js';
import {
  checkRows,
  INTERESTS_PAGE,
  LISTING_COMMENTS,
  readOperations,
  type ReadOperation,
  type ReadsInputs,
  type Side,
} from './readsOps.js';
import {
  compareSides,
  evaluateReadsTargets,
  geomeans,
  type ReadsResults,
  type ReadsSlice,
} from './readsReport.js';

/** Listings and handles the single-row reads rotate through. */
const ROTATION = 200;
/** The interests search text: a common substring, so its page is full. */
const INTEREST_SEARCH = 'an';

/** A spread of rows read as the owner (md5 order: the same rows every run, not only the newest). */
async function readInputs(benchUrl: string): Promise<ReadsInputs> {
  return withClient(benchUrl, async (client) => {
    // Listings with at least LISTING_COMMENTS visible comments (comment_count counts only those), so
    // "one listing" reads a full page of comments on every request.
    const ids = await client.query<{ id: number }>(
      `SELECT id FROM marketplace_listings WHERE status = 'active' AND comment_count >= $2
       ORDER BY md5(id::text) LIMIT $1`,
      [ROTATION, LISTING_COMMENTS],
    );
    const handles = await client.query<{ handle: string }>(
      'SELECT handle FROM profiles ORDER BY md5(handle) LIMIT $1',
      [ROTATION],
    );
    const counts = await client.query<{ interests: string; categories: string }>(
      `SELECT (SELECT count(*) FROM interest_catalog WHERE name ILIKE '%' || $1 || '%') AS interests,
              (SELECT count(*) FROM categories) AS categories`,
      [INTEREST_SEARCH],
    );
    const c = counts.rows[0];
    if (ids.rows.length === 0 || handles.rows.length === 0 || !c) {
      throw new Error('reads: the bench database has no active listings or profiles');
    }
    return {
      listingIds: ids.rows.map((r) => r.id),
      handles: handles.rows.map((r) => r.handle),
      interestSearch: { text: INTEREST_SEARCH, pageRows: Math.min(INTERESTS_PAGE, Number(c.interests)) },
      categories: Number(c.categories),
    };
  });
}

interface ReadTask extends RoundTask {
  operation: ReadOperation;
  side: Side;
}

type Client = ReturnType<typeof createGraphqlClient>;

function readTask(client: Client, operation: ReadOperation, side: Side): ReadTask {
  const request = operation.sides[side];
  return {
    operation,
    side,
    task: async (index) => {
      const body = JSON.stringify({ query: request.query, variables: request.variables(index) });
      checkRows(await client.post(body, ''), operation, side);
    },
  };
}

const toMb = (kb: number | null) => (kb === null ? null : Math.round(kb / 1024));

export async function runReadsPhase(
  env: Record<string, string>,
  settings: BenchSettings,
  config: Config,
): Promise<ReadsResults> {
  const date = new Date().toISOString();
  const atStart = os.loadavg();
  const peerInstall = await ensurePeerInstalled();
  const inputs = await readInputs(settings.benchUrl);
  const operations = readOperations(inputs);
  const [lowC, highC] = settings.concurrencies;
  const { rounds, sliceSec } = settings.reads;
  const timing = { warmupSec: settings.warmupSec, durationSec: rounds * sliceSec, rounds };

  let gateway: GatewayProcess | null = null;
  let peer: PeerProcess | null = null;
  const clients: Client[] = [];
  const slices: ReadsSlice[] = [];
  const exits = { lodestar: 'not started', postgraphile: 'not started' };
  const rss: ReadsResults['rss'] = { lodestarPeakMb: null, postgraphilePeakMb: null };
  try {
    gateway = await startGatewayProcess(env, 'gateway (reads)');
    peer = await startPeerProcess({
      databaseUrl: settings.gatewayUrl,
      role: config.database.role,
      poolMax: config.database.poolMax,
      statementTimeoutMs: config.database.statementTimeoutMs,
    });
    console.log(
      `reads: gateway pid ${gateway.pid} at ${gateway.url}, PostGraphile pid ${peer.pid} at ${peer.url}; ` +
        `${operations.length} operations × 2 sides, ${rounds} rounds of ${sliceSec} s slices at c=${lowC} and c=${highC}`,
    );
    const lodestar = createGraphqlClient(gateway.url, highC);
    const postgraphile = createGraphqlClient(peer.url, highC);
    clients.push(lodestar, postgraphile);
    const tasks = operations.flatMap((operation) => [
      readTask(lodestar, operation, 'lodestar'),
      readTask(postgraphile, operation, 'postgraphile'),
    ]);
    // One checked request each before any load: a query the other side cannot answer stops here.
    for (const t of tasks) await t.task(0, 0);

    for (const concurrency of settings.concurrencies) {
      const results = await runRounds(tasks, concurrency, timing);
      for (const { task, warmup, measured } of results) {
        measured.forEach((phase, round) => {
          const r = toLoadResult(concurrency, [phase], round === 0 ? warmup : []);
          slices.push({
            operation: task.operation.name,
            side: task.side,
            concurrency,
            round,
            requests: r.requests,
            errors: r.errors,
            requestsPerSec: r.requestsPerSec,
            p50Ms: r.latencyMs.p50,
          });
          if (r.firstError) console.error(`reads: ${task.operation.name} on ${task.side}: ${r.firstError}`);
        });
      }
      for (const row of compareSides(slices.filter((s) => s.concurrency === concurrency))) {
        console.log(
          `  c=${String(concurrency).padEnd(3)} ${row.operation.padEnd(17)} ` +
            `Lodestar ${row.lodestar.requestsPerSec} req/s p50 ${row.lodestar.p50Ms} ms | ` +
            `PostGraphile ${row.postgraphile.requestsPerSec} req/s p50 ${row.postgraphile.p50Ms} ms | ` +
            `req/s ${row.throughputRatio}× speed ${row.latencyRatio}×`,
        );
      }
    }
    rss.lodestarPeakMb = toMb((await gateway.memory().catch(() => ({ hwmKb: null }))).hwmKb);
    rss.postgraphilePeakMb = toMb((await peer.memory().catch(() => ({ hwmKb: null }))).hwmKb);
  } finally {
    for (const c of clients) c.close();
    if (gateway) exits.lodestar = await gateway.stop();
    if (peer) exits.postgraphile = await peer.stop();
  }

  const rows = compareSides(slices);
  const means = geomeans(rows);
  return {
    date,
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: { atStart, atEnd: os.loadavg() },
    settings: {
      rounds,
      warmupSec: settings.warmupSec,
      sliceSec,
      concurrencies: [...settings.concurrencies],
      poolMax: config.database.poolMax,
      peer:
        'PostGraphile 4.14 (bench/peer/server.js, pg-simplify-inflector, dynamicJson, no mutations, ' +
        `no query log, ignoreRBAC false; ${peerInstall.replace(/^bench\/peer: /, '')})`,
      identity: `anonymous (lodestar.user_id '', lodestar.role 'anonymous', SET ROLE ${config.database.role})`,
    },
    operations: operations.map((o) => ({
      name: o.name,
      description: o.description,
      lodestar: o.sides.lodestar.query,
      postgraphile: o.sides.postgraphile.query,
    })),
    slices,
    rows,
    geomeans: means,
    rss,
    exits,
    targets: evaluateReadsTargets(rows, means, lowC, highC),
  };
}
