/**
 * npm run bench: the feed (`suggestions`) through the real gateway vs. the same SQL issued directly,
 * on a 100k-listing database. See bench/README.md for what is measured and how to read it.
 */
import os from 'node:os';
import { signToken } from '../src/auth/signToken.js';
import { loadConfig, type Config } from '../src/config/config.js';
import { startGateway } from '../src/server/gateway.js';
import { createLogger } from '../src/server/logger.js';
import { pickViewers, prepareBenchDatabase } from './database.js';
import { createGraphqlClient, feedQuery } from './http.js';
import { runLoadComparison } from './loadRuns.js';
import { evaluateTargets, toMarkdown, writeResults, type BenchResults } from './report.js';
import { readSettings } from './settings.js';
import { countPerRequest, withStatementCounter, type StatementCount } from './statements.js';

/** The page size of the measured query; the statement count also tries 10 and 50. */
const FIRST = 20;
const COUNT_FIRSTS = [10, 50];
const COUNT_REQUESTS = 20;
/** Fixed so tokens signed here verify in the gateway; HS256 needs 32+ characters. */
const JWT_SECRET = 'lodestar-bench-only-jwt-secret-0123456789';

/** Production settings (no IDE, no introspection, no demo data) but quiet logs, on a free port. */
function gatewayConfig(databaseUrl: string): Config {
  return loadConfig({
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    JWT_SECRET,
  });
}

async function countStatements(config: Config, tokens: string[]): Promise<StatementCount[]> {
  // A gateway of its own, started after the counter is installed and after the load runs, so the
  // wrapped query() never touches the measured runs and nothing else queries meanwhile.
  return withStatementCounter(async (counter) => {
    const gateway = await startGateway(config, createLogger(config));
    const client = createGraphqlClient(gateway.url, 1);
    try {
      const counts: StatementCount[] = [];
      for (const first of COUNT_FIRSTS) {
        counts.push(await countPerRequest(counter, client.feedTask(first, tokens), first, COUNT_REQUESTS));
      }
      return counts;
    } finally {
      client.close();
      await gateway.stop();
    }
  });
}

async function main(): Promise<number> {
  const settings = readSettings();
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  const dataset = await prepareBenchDatabase(settings);
  const config = gatewayConfig(settings.benchUrl);
  const viewers = await pickViewers(settings.benchUrl, settings.viewers);
  const tokens = await Promise.all(
    viewers.map((sub) => signToken(config.auth, { sub, role: 'user' }, { expiresIn: '2h' })),
  );
  console.log(`viewers: ${viewers.length} users with profile embeddings, tokens signed`);

  const { runs, rss } = await runLoadComparison(config, settings, viewers, tokens, FIRST);

  console.log(`statements: ${COUNT_REQUESTS} requests each for first = ${COUNT_FIRSTS.join(', ')}`);
  const statements = await countStatements(config, tokens);
  for (const c of statements) {
    console.log(
      `  first=${c.first}: ${c.perRequest.max} max (${c.withTransactionControl.max} with tx control)`,
    );
  }

  const [, highC] = settings.concurrencies;
  const find = (path: string, c: number) => runs.find((r) => r.path === path && r.concurrency === c);
  const [gwLow, rawLow, gwHigh, rawHigh] = [
    find('gateway', 1),
    find('raw-sql', 1),
    find('gateway', highC),
    find('raw-sql', highC),
  ];
  if (!gwLow || !rawLow || !gwHigh || !rawHigh) throw new Error('a load run is missing');
  const round2 = (n: number) => Math.round(n * 100) / 100;
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
      viewers: viewers.length,
      first: FIRST,
      query: feedQuery(FIRST),
      gatewayPoolMax: config.database.poolMax,
      servicePoolMax: Math.max(1, Math.ceil(config.database.poolMax / 2)),
    },
    runs,
    ratios: {
      p50GatewayOverRawAtC1: round2(gwLow.latencyMs.p50 / rawLow.latencyMs.p50),
      throughputGatewayOverRawAtHighC: round2(gwHigh.requestsPerSec / rawHigh.requestsPerSec),
    },
    statements,
    rss,
  };
  const results: BenchResults = { ...partial, targets: evaluateTargets(partial, highC) };
  const paths = await writeResults(results);
  console.log(`\n${toMarkdown(results)}`);
  console.log(`results: ${paths.json}\n         ${paths.latest}\n         ${paths.md}`);
  const errors = runs.reduce((n, r) => n + r.errors, 0);
  if (errors > 0) console.error(`bench: ${errors} request(s) failed; see firstError in the results`);
  return errors > 0 ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error('bench: failed:', error);
  process.exitCode = 1;
}
