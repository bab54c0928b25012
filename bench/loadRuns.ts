import type { Config } from '../src/config/config.js';
import { createEpsilonGreedyPolicy } from '../src/feed/policies/epsilonGreedy.js';
import { startGateway } from '../src/server/gateway.js';
import { createLogger } from '../src/server/logger.js';
import { createGraphqlClient } from './http.js';
import { runLoad, type LoadResult } from './load.js';
import { createRawServicePool, rawFeedTask } from './rawSql.js';
import type { BenchResults } from './report.js';
import type { BenchSettings } from './settings.js';

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

function printRun(path: string, r: LoadResult): void {
  const l = r.latencyMs;
  console.log(
    `  ${path.padEnd(8)} c=${String(r.concurrency).padEnd(3)} ${String(r.requests).padStart(6)} req ` +
      `${String(r.requestsPerSec).padStart(7)} req/s  p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms` +
      `  errors ${r.errors}${r.firstError ? ` (first: ${r.firstError})` : ''}`,
  );
}

/**
 * Starts the real gateway in this process and the raw-SQL pool next to it, then for each concurrency
 * runs the gateway (HTTP) and the raw SQL back to back, so both see the same data and cache state.
 * RSS is sampled during the gateway's high-concurrency run.
 */
export async function runLoadComparison(
  config: Config,
  settings: BenchSettings,
  viewers: string[],
  tokens: string[],
  first: number,
): Promise<{ runs: BenchResults['runs']; rss: BenchResults['rss'] }> {
  const beforeGateway = process.memoryUsage().rss;
  const gateway = await startGateway(config, createLogger(config));
  const raw = createRawServicePool(config, settings.benchUrl);
  const [, highC] = settings.concurrencies;
  const client = createGraphqlClient(gateway.url, highC);
  const rawTask = rawFeedTask(raw, {
    first,
    servedWindowMinutes: config.feed.servedWindowMinutes,
    // The default policy's name: only a text column, its value does not change the insert's cost.
    policyName: createEpsilonGreedyPolicy({ epsilon: config.feed.epsilon }).name,
    viewers,
  });
  const started = process.memoryUsage();
  const peak = { rss: started.rss, heapUsed: started.heapUsed };
  const runs: BenchResults['runs'] = [];
  const timing = { durationSec: settings.durationSec, warmupSec: settings.warmupSec };
  console.log(
    `load: gateway at ${gateway.url}, ${timing.warmupSec} s warm-up + ${timing.durationSec} s per run`,
  );
  try {
    for (const concurrency of settings.concurrencies) {
      let sampler: NodeJS.Timeout | undefined;
      const sample = () => {
        const m = process.memoryUsage();
        if (m.rss > peak.rss) Object.assign(peak, { rss: m.rss, heapUsed: m.heapUsed });
      };
      const http = await runLoad(client.feedTask(first, tokens), {
        concurrency,
        ...timing,
        onMeasureStart: () => {
          if (concurrency === highC) sampler = setInterval(sample, 50);
        },
      });
      clearInterval(sampler);
      runs.push({ path: 'gateway', ...http });
      printRun('gateway', http);
      const sql = await runLoad(rawTask, { concurrency, ...timing });
      runs.push({ path: 'raw-sql', ...sql });
      printRun('raw-sql', sql);
    }
  } finally {
    client.close();
    await gateway.stop();
    await raw.close();
  }
  return {
    runs,
    rss: {
      beforeGatewayMb: mb(beforeGateway),
      gatewayStartedMb: mb(started.rss),
      peakMb: mb(peak.rss),
      peakHeapUsedMb: mb(peak.heapUsed),
      note:
        `RSS of the bench process (run by tsx), which holds the gateway AND the raw-SQL pool and the ` +
        `load generator: ${mb(beforeGateway)} MB with the modules loaded but before the gateway started, ` +
        `${mb(started.rss)} MB once it listened, peak ${mb(peak.rss)} MB (heap used ${mb(peak.heapUsed)} MB) ` +
        `during the gateway c=${highC} run. It overstates the gateway alone.`,
    },
  };
}
