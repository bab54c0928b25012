import os from 'node:os';
import { profileRoleSql, profileRolesSql } from '../../src/auth/effectiveRole.js';
import type { Config } from '../../src/config/config.js';
import type { DatasetInfo } from '../shared/database.js';
import { GATEWAY_ARGS, startGatewayProcess } from '../shared/gatewayProcess.js';
import { createGraphqlClient, feedQuery } from '../shared/http.js';
import type { LoadResult } from '../shared/load.js';
import { type BenchSettings, COUNTING_ENV } from '../shared/settings.js';
import { startStatementProxy } from '../shared/statementProxy.js';
import { countPerRequest, type StatementCount } from '../shared/statements.js';
import { evaluateTargets, type BenchResults } from './feedReport.js';
import { runLoadComparison } from './loadRuns.js';

/** The page size of the measured query; the statement count also tries 10 and 50. */
const FIRST = 20;
const COUNT_FIRSTS = [10, 50];
const COUNT_REQUESTS = 20;
/** Viewers the counted requests rotate through: 5 pages each, so the pages that refill a cache are counted too. */
const COUNT_VIEWERS = 4;
/**
 * The cached role lookup, which issue #17 counts apart from a page's data: its statements' own text
 * (src/auth/effectiveRole.ts), so the count follows them when they change (a copied pattern once stopped
 * matching, and the lookup was counted as data).
 */
const ROLE_LOOKUP_STATEMENTS = [profileRoleSql, profileRolesSql].map((sql) => sql.trim());
export const isRoleLookup = (sql: string): boolean => ROLE_LOOKUP_STATEMENTS.includes(sql.trim());
/**
 * A gateway process of its own, started after the load runs, whose Postgres connections go through
 * the counting proxy; nothing else uses it while it is counted.
 */
async function countStatements(
  env: Record<string, string>,
  settings: BenchSettings,
  tokens: string[],
): Promise<{ counts: StatementCount[]; exit: string }> {
  const proxy = await startStatementProxy(settings.gatewayUrl);
  try {
    const gateway = await startGatewayProcess(
      // The experiment is re-read on a timer, not per request: keep that read out of the counted window.
      { ...env, DATABASE_URL: proxy.url, ...COUNTING_ENV },
      'gateway (counting)',
    );
    const client = createGraphqlClient(gateway.url, 1);
    const counts: StatementCount[] = [];
    let exit = 'not stopped';
    try {
      for (const first of COUNT_FIRSTS) {
        const task = client.feedTask(first, tokens.slice(0, COUNT_VIEWERS));
        counts.push(await countPerRequest(proxy, task, first, COUNT_REQUESTS, { apart: isRoleLookup }));
      }
    } finally {
      client.close();
      exit = await gateway.stop();
    }
    return { counts, exit };
  } finally {
    await proxy.close();
  }
}

/** The feed phase: gateway vs raw SQL at both concurrencies, statements per request, the gateway's RSS. */
export async function runFeedPhase(
  env: Record<string, string>,
  settings: BenchSettings,
  context: {
    config: Config;
    viewers: string[];
    /** The raw-SQL runs' viewers: as many others as `viewers` (runLoadComparison). */
    rawViewers: string[];
    tokens: string[];
    startedAt: string;
    loadAverageAtStart: number[];
    dataset: DatasetInfo;
    build: string;
  },
): Promise<BenchResults> {
  const { config, viewers, rawViewers, tokens, startedAt, loadAverageAtStart, dataset, build } = context;
  const { runs, rss, exit, candidateMemory } = await runLoadComparison(env, config, settings, {
    viewers,
    rawViewers,
    tokens,
    first: FIRST,
  });

  console.log(
    `statements: ${COUNT_REQUESTS} requests (${COUNT_VIEWERS} viewers) each for first = ` +
      `${COUNT_FIRSTS.join(', ')}, counted at the Postgres wire protocol`,
  );
  const { counts: statements, exit: countingExit } = await countStatements(env, settings, tokens);
  for (const c of statements) {
    console.log(
      `  first=${c.first}: ${c.perRequest.max} max (${c.withTransactionControl.max} with tx control; ` +
        `data ${c.data?.max ?? '?'}, role lookups ${c.apart?.max ?? '?'})`,
    );
  }

  const [, highC] = settings.concurrencies;
  const find = (path: string, c: number) => runs.find((r) => r.path === path && r.concurrency === c);
  const [gwLow, rawLow, annLow, gwHigh, rawHigh, annHigh] = [
    find('gateway', 1),
    find('raw-sql', 1),
    find('bare-ann', 1),
    find('gateway', highC),
    find('raw-sql', highC),
    find('bare-ann', highC),
  ];
  if (!gwLow || !rawLow || !annLow || !gwHigh || !rawHigh || !annHigh)
    throw new Error('a load run is missing');
  const round2 = (n: number) => Math.round(n * 100) / 100;
  const sliced = (run: LoadResult) =>
    run.slices ?? { count: 1, requestsPerSec: run.requestsPerSec, p50: run.latencyMs.p50 };
  const partial: Omit<BenchResults, 'targets'> = {
    date: startedAt,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    loadAverageAtStart,
    dataset: { ...dataset, dimensions: 384 },
    settings: {
      durationSec: settings.durationSec,
      warmupSec: settings.warmupSec,
      rounds: settings.feedRounds,
      viewers: viewers.length,
      first: FIRST,
      query: feedQuery(FIRST),
      gatewayPoolMax: config.database.poolMax,
      servicePoolMax: Math.max(1, Math.ceil(config.database.poolMax / 2)),
    },
    gateway: {
      command: `node ${GATEWAY_ARGS.join(' ')}`,
      build,
      redis: settings.redisUrl ? 'with Redis' : 'without Redis',
      exits: { load: exit, counting: countingExit },
    },
    runs,
    ratios: {
      p50GatewayOverRawAtC1: round2(gwLow.latencyMs.p50 / rawLow.latencyMs.p50),
      throughputGatewayOverRawAtHighC: round2(gwHigh.requestsPerSec / rawHigh.requestsPerSec),
      // Interleaved slices (loadRuns.ts): medians of the slices' p50 and req/s.
      p50GatewayOverAnnAtC1: round2(sliced(gwLow).p50 / sliced(annLow).p50),
      throughputGatewayOverAnnAtHighC: round2(sliced(gwHigh).requestsPerSec / sliced(annHigh).requestsPerSec),
    },
    statements,
    candidateMemory,
    rss,
  };
  return { ...partial, targets: evaluateTargets(partial, highC) };
}
