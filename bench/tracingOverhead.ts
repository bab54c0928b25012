import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { signToken } from '../src/auth/signToken.js';
import { loadConfig } from '../src/config/config.js';
import { pickViewers, prepareBenchDatabase } from './shared/database.js';
import { buildGateway, memorySummary, startGatewayProcess } from './shared/gatewayProcess.js';
import { createGraphqlClient } from './shared/http.js';
import { runRounds, toLoadResult, type LoadResult } from './shared/load.js';
import { gatewayEnv, readSettings } from './shared/settings.js';

/**
 * `npm run bench:tracing` (issue #21, item 2): what turning tracing on costs a request. Three built
 * gateways on the bench database, the same environment but for the OTEL_* variables: untraced, traced
 * with one trace in ten kept (`parentbased_traceidratio` 0.1, the setting docs/clients.md suggests) and
 * traced with every trace kept, both exporting OTLP/protobuf to a sink in this process that only counts.
 * They serve the same load, interleaved in rounds: a feed page (`suggestions(first: 20)`, its SQL and
 * Redis traced) and a listings page with category and seller, at c=1 and c=16. Reported: medians of
 * the rounds' req/s and p50 of each, the ratios traced / untraced, each gateway's peak RSS, and what
 * was exported.
 *
 * Knobs: the bench's own (BENCH_DURATION_SEC, BENCH_WARMUP_SEC, BENCH_SKIP_BUILD, BENCH_SKIP_SEED, …;
 * bench/shared/settings.ts), BENCH_TRACING_ROUNDS (default 5) and BENCH_TRACING_RATIO (the sampled
 * gateway's ratio, default 0.1; 0 measures the instrumentation without any export).
 */

const FIRST = 20;
const listingsQuery = `{ listings(first: 20) { edges { node { id title price category { name } seller { handle } } } } }`;

async function main(): Promise<void> {
  const settings = readSettings();
  const rounds = Number(process.env.BENCH_TRACING_ROUNDS ?? 5);
  // The kept share of the sampled gateway; 0 keeps nothing, so what remains is the cost of the
  // instrumentation and context propagation alone.
  const keptShare = Number(process.env.BENCH_TRACING_RATIO ?? 0.1);
  if (!(keptShare >= 0 && keptShare <= 1))
    throw new Error('BENCH_TRACING_RATIO must be a number from 0 to 1');
  const dataset = await prepareBenchDatabase(settings);
  const env = gatewayEnv(settings);
  const config = loadConfig({ ...env, PORT: '0' });
  const viewers = await pickViewers(settings.benchUrl, settings.viewers);
  const tokens = await Promise.all(
    viewers.map((sub) => signToken(config.auth, { sub, role: 'user' }, { expiresIn: '2h' })),
  );
  if (!settings.skipBuild) console.log(`build: ${(await buildGateway()).toFixed(1)} s`);

  // The collector: takes every export and counts it (as a real collector would answer, 200 at once).
  let exports = 0;
  let exportedBytes = 0;
  const sink = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (exportedBytes += chunk.length));
    request.on('end', () => {
      exports += 1;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

  const traceEnv = (sampler: string, ratio: string) => ({
    ...env,
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_TRACES_SAMPLER: sampler,
    OTEL_TRACES_SAMPLER_ARG: ratio,
  });
  const gateways = {
    off: await startGatewayProcess(env, 'untraced'),
    tenth: await startGatewayProcess(traceEnv('parentbased_traceidratio', String(keptShare)), 'traced-ratio'),
    all: await startGatewayProcess(traceEnv('always_on', '1'), 'traced-100%'),
  };
  const variants = ['off', 'tenth', 'all'] as const;
  const results: { work: string; c: number; by: Record<(typeof variants)[number], LoadResult> }[] = [];
  let requestsTraced = 0;
  try {
    for (const c of settings.concurrencies) {
      const clients = variants.map((v) => [v, createGraphqlClient(gateways[v].url, c)] as const);
      const listingsCheck = (text: string) => {
        if (text.split('"id":').length - 1 !== 20)
          throw new Error(`short listings page: ${text.slice(0, 200)}`);
      };
      const tasks = clients.flatMap(([v, client]) => [
        { name: `feed ${v}`, task: client.feedTask(FIRST, tokens) },
        { name: `listings ${v}`, task: client.queryTask(listingsQuery, [''], listingsCheck) },
      ]);
      const measured = await runRounds(tasks, c, {
        warmupSec: settings.warmupSec,
        durationSec: settings.durationSec,
        rounds,
      });
      const byName = new Map(measured.map((m) => [m.task.name, toLoadResult(c, m.measured, m.warmup)]));
      for (const work of ['feed', 'listings']) {
        const get = (v: (typeof variants)[number]) => {
          const result = byName.get(`${work} ${v}`);
          if (!result) throw new Error(`no result for ${work} ${v}`);
          return result;
        };
        const by = { off: get('off'), tenth: get('tenth'), all: get('all') };
        requestsTraced += by.tenth.requests * keptShare + by.all.requests;
        results.push({ work, c, by });
      }
      for (const [, client] of clients) client.close();
    }
    const memory = {
      off: await memorySummary(gateways.off),
      tenth: await memorySummary(gateways.tenth),
      all: await memorySummary(gateways.all),
    };
    console.log(
      `\ntracing overhead: ${dataset.listings} listings, ${viewers.length} viewers, ${rounds} interleaved rounds of ${settings.durationSec / rounds} s, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const rps = (x: LoadResult) => x.slices?.requestsPerSec ?? x.requestsPerSec;
    const p50 = (x: LoadResult) => x.slices?.p50 ?? x.latencyMs.p50;
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(
      `| work | c | untraced req/s | ${keptShare * 100}% traced req/s (ratio) | all traced req/s (ratio) | untraced p50 ms | ${keptShare * 100}% traced p50 ms (ratio) | all traced p50 ms (ratio) |`,
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const { work, c, by } of results) {
      console.log(
        `| ${work} | ${c} | ${rps(by.off)} | ${rps(by.tenth)} (${ratio(rps(by.tenth), rps(by.off))}) | ${rps(by.all)} (${ratio(rps(by.all), rps(by.off))}) | ${p50(by.off)} | ${p50(by.tenth)} (${ratio(p50(by.tenth), p50(by.off))}) | ${p50(by.all)} (${ratio(p50(by.all), p50(by.off))}) |`,
      );
      const errors = variants.map((v) => by[v].errors);
      if (errors.some((n) => n > 0)) console.log(`  errors (untraced, 10%, all): ${errors.join(', ')}`);
    }
    console.log(
      `peak RSS: untraced ${memory.off.peakRssMb} MB, ${keptShare * 100}% traced ${memory.tenth.peakRssMb} MB, all traced ${memory.all.peakRssMb} MB; exported ${exports} batches, ${(exportedBytes / 1024 / 1024).toFixed(1)} MB (about ${(exportedBytes / Math.max(1, requestsTraced)).toFixed(0)} bytes per kept trace, warm-up included)`,
    );
  } finally {
    for (const v of variants) await gateways[v].stop();
    sink.close();
  }
}

await main();
