/**
 * The scale phase (issue #17, target 5, the cost curve): the feed, the listings page and the bare top-80
 * ANN statement at 10k, 100k and 1M listings, each size on a database of its own with a gateway of its
 * own, all interleaved in one run; then the vector index's sizes, build times and recall per setting.
 */
import os from 'node:os';
import { signToken } from '../../src/auth/signToken.js';
import type { Config } from '../../src/config/config.js';
import { type ServiceDb, createServiceDb } from '../../src/db/service.js';
import { pickViewers, withClient } from '../shared/database.js';
import { startGatewayProcess, type GatewayProcess } from '../shared/gatewayProcess.js';
import { createGraphqlClient, feedQuery } from '../shared/http.js';
import { median, runRounds, toLoadResult, type RoundTask } from '../shared/load.js';
import { asLogin, BENCH_GATEWAY_LOGIN, type BenchSettings } from '../shared/settings.js';
import { prepareSize, scaleSizes, serviceIndexOf, type PreparedSize } from './scaleDatabases.js';
import { measureIndexes, sampleViewers } from './scaleIndex.js';
import {
  feedGrowthTarget,
  type LoadCell,
  recallTargets,
  recommend,
  SCALE_RECALL_K,
  type ScaleResults,
  type SizeRow,
} from './scaleReport.js';

const FIRST = 20;
const ANN_LIMIT = 80;
export const LISTINGS_QUERY = `{ listings(first: ${FIRST}) { edges { node { id title price category { name } seller { handle } } } } }`;
export const ANN_STATEMENT = `SELECT id FROM marketplace_listings ORDER BY embedding <=> $1::vector LIMIT ${ANN_LIMIT}`;

type Kind = 'feed' | 'listings' | 'ann';
interface ScaleTask extends RoundTask {
  size: string;
  kind: Kind;
}

interface Running {
  prepared: PreparedSize;
  gateway: GatewayProcess;
  service: ServiceDb;
  client: ReturnType<typeof createGraphqlClient>;
}

function checkListings(text: string): void {
  const rows = text.split('"handle":').length - 1;
  if (rows !== FIRST) throw new Error(`expected ${FIRST} listings, got ${rows}: ${text.slice(0, 200)}`);
}

async function embeddingsOf(url: string, users: readonly string[]): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ embedding: string }>(
      `SELECT embedding::text AS embedding FROM profiles WHERE user_id = ANY($1::uuid[]) AND embedding IS NOT NULL`,
      [users],
    );
    return rows.map((r) => r.embedding);
  });
}

/** The command that reproduces this run: the scale settings that differ from their defaults. */
function commandOf(settings: BenchSettings): string {
  const { sizes, steps, hnswMaxRows, coengagementBudgetSec } = settings.scale;
  const env = [
    'BENCH_PHASES=scale',
    sizes.join(',') === '10k,100k,1m' ? '' : `BENCH_SCALE_SIZES=${sizes.join(',')}`,
    steps.join(',') === 'load,index' ? '' : `BENCH_SCALE_STEPS=${steps.join(',')}`,
    hnswMaxRows === 1_000_000 ? '' : `BENCH_SCALE_HNSW_MAX_ROWS=${hnswMaxRows}`,
    coengagementBudgetSec === 300 ? '' : `BENCH_SCALE_COENGAGEMENT_MAX_SEC=${coengagementBudgetSec}`,
  ];
  return `${env.filter(Boolean).join(' ')} npm run bench`;
}

const toCell = (r: ReturnType<typeof toLoadResult>): LoadCell => ({
  requests: r.requests,
  errors: r.errors,
  requestsPerSec: r.requestsPerSec,
  p50Ms: r.latencyMs.p50,
});

export async function runScalePhase(
  env: Record<string, string>,
  settings: BenchSettings,
  config: Config,
): Promise<ScaleResults> {
  const date = new Date().toISOString();
  const atStart = os.loadavg();
  const sizes = scaleSizes(settings);
  const prepared: PreparedSize[] = [];
  for (const size of sizes) prepared.push(await prepareSize(settings, size));

  const running: Running[] = [];
  const tasks: ScaleTask[] = [];
  const exits: Record<string, string> = {};
  const duringLoad: number[][] = [];
  const [lowC, highC] = settings.concurrencies;
  const cells = new Map<string, LoadCell>();
  const firstPageP50 = new Map<string, number>();
  try {
    for (const p of settings.scale.steps.includes('load') ? prepared : []) {
      const viewers = await pickViewers(p.size.data.url, settings.viewers);
      const tokens = await Promise.all(
        viewers.map((sub) => signToken(config.auth, { sub, role: 'user' }, { expiresIn: '2h' })),
      );
      const embeddings = await embeddingsOf(p.size.data.url, viewers);
      const gatewayUrl = asLogin(p.size.data.url, BENCH_GATEWAY_LOGIN);
      const gateway = await startGatewayProcess(
        { ...env, DATABASE_URL: gatewayUrl, VECTOR_IVFFLAT_PROBES: String(p.probes) },
        `gateway ${p.size.label}`,
      );
      // The service pool as the gateway builds it (role, probes, iterative scan), at the gateway's size.
      const service = createServiceDb({
        url: p.size.data.url,
        statementTimeoutMs: config.database.statementTimeoutMs,
        poolMax: Math.max(1, Math.ceil(config.database.poolMax / 2)),
        ivfflatProbes: p.probes,
        onPoolError: (error) =>
          console.warn(`scale ${p.size.label}: idle connection failed: ${error.message}`),
      });
      const client = createGraphqlClient(gateway.url, highC);
      running.push({ prepared: p, gateway, service, client });
      const label = p.size.label;
      // Each viewer's first page, one at a time: the search and the candidate cache's write (a returning
      // viewer's cost), timed; the rounds then measure the pages after it, as the feed phase does.
      const page = client.feedTask(FIRST, tokens);
      const firstPages: number[] = [];
      for (let i = 0; i < tokens.length; i += 1) {
        const started = performance.now();
        await page(i, 0);
        firstPages.push(performance.now() - started);
      }
      firstPageP50.set(label, Math.round(median(firstPages) * 100) / 100);
      tasks.push(
        { size: label, kind: 'feed', task: client.feedTask(FIRST, tokens) },
        { size: label, kind: 'listings', task: client.queryTask(LISTINGS_QUERY, [''], checkListings) },
        {
          size: label,
          kind: 'ann',
          task: async (index) => {
            const rows = await service.query(ANN_STATEMENT, [embeddings[index % embeddings.length]]);
            if (rows.length !== ANN_LIMIT) throw new Error(`expected ${ANN_LIMIT} rows, got ${rows.length}`);
          },
        },
      );
      console.log(
        `scale ${label}: gateway pid ${gateway.pid}, ${viewers.length} viewers, lists ${p.lists}, probes ${p.probes}`,
      );
    }
    for (const concurrency of settings.concurrencies) {
      console.log(
        `scale: c=${concurrency}, ${tasks.length} tasks interleaved, ${settings.warmupSec} s warm-up each, ` +
          `${settings.scale.rounds} rounds of ${settings.scale.sliceSec} s`,
      );
      const results = await runRounds(tasks, concurrency, {
        warmupSec: settings.warmupSec,
        durationSec: settings.scale.rounds * settings.scale.sliceSec,
        rounds: settings.scale.rounds,
      });
      duringLoad.push(os.loadavg());
      for (const r of results) {
        const cell = toCell(toLoadResult(concurrency, r.measured, r.warmup));
        cells.set(`${r.task.size}/${r.task.kind}/${concurrency}`, cell);
        console.log(
          `  ${r.task.size.padEnd(5)} ${r.task.kind.padEnd(9)} c=${String(concurrency).padEnd(3)} ` +
            `${String(cell.requestsPerSec).padStart(7)} req/s  p50 ${cell.p50Ms} ms  errors ${cell.errors}`,
        );
      }
    }
  } finally {
    for (const r of running) {
      r.client.close();
      await r.service.close();
      exits[r.prepared.size.label] = await r.gateway.stop();
    }
  }

  const rows: SizeRow[] = [];
  const builds: ScaleResults['builds'] = [];
  const measured: ScaleResults['settingsMeasured'] = [];
  for (const p of prepared) {
    const index = settings.scale.steps.includes('index')
      ? await measureIndexes(
          settings,
          p.size,
          p.dataset.listings,
          await sampleViewers(p.size.data.url, settings.scale.recallSamples),
          p.probes,
        )
      : {
          service: await serviceIndexOf(p.size.data.url),
          serviceRecall: Number.NaN,
          builds: [],
          measured: [],
        };
    builds.push(...index.builds);
    measured.push(...index.measured);
    const cell = (kind: Kind, c: number): LoadCell =>
      cells.get(`${p.size.label}/${kind}/${c}`) ?? { requests: 0, errors: 0, requestsPerSec: 0, p50Ms: 0 };
    rows.push({
      size: p.size.label,
      database: p.size.data.name,
      listings: p.dataset.listings,
      users: p.dataset.users,
      action: p.dataset.action,
      timings: {
        seedSec: p.timings.get('seed')?.seconds ?? null,
        coengagementSec: p.timings.get('coengagement')?.seconds ?? null,
        coengagementNote: p.timings.get('coengagement')?.detail ?? null,
        coengagementRows: p.coengagementRows,
      },
      feed: {
        c1: cell('feed', lowC),
        cHigh: cell('feed', highC),
        firstPageP50Ms: firstPageP50.get(p.size.label) ?? null,
      },
      listingsPage: { c1: cell('listings', lowC), cHigh: cell('listings', highC) },
      ann: { c1: cell('ann', lowC), cHigh: cell('ann', highC) },
      tableBytes: index.service.tableBytes,
      toastBytes: index.service.toastBytes,
      serviceIndex: {
        name: index.service.name,
        build: index.service.build,
        indexBytes: index.service.indexBytes,
        probes: p.probes,
        recall: Number.isNaN(index.serviceRecall) ? null : index.serviceRecall,
      },
    });
  }
  const targets = [feedGrowthTarget(rows), ...recallTargets(rows)];
  return {
    date,
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: { atStart, atEnd: os.loadavg(), duringLoad },
    command: commandOf(settings),
    settings: {
      warmupSec: settings.warmupSec,
      durationSec: settings.scale.rounds * settings.scale.sliceSec,
      rounds: settings.scale.rounds,
      concurrencies: settings.concurrencies,
      viewers: settings.viewers,
      recallSamples: settings.scale.recallSamples,
      recallK: SCALE_RECALL_K,
      feedQuery: feedQuery(FIRST),
      listingsQuery: LISTINGS_QUERY,
      annStatement: ANN_STATEMENT,
    },
    rows,
    builds,
    settingsMeasured: measured,
    recommended: recommend(measured),
    exits,
    targets,
  };
}
