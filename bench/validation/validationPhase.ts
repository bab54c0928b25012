import http from 'node:http';
import os from 'node:os';
import { parse, specifiedRules, validate } from 'graphql';
import { loadConfig } from '../../src/config/config.js';
import { migrateUrl } from '../../src/db/migrator.js';
import { createSchema } from '../../src/schema/index.js';
import {
  createMaxAliasesRule,
  createMaxDepthRule,
  createMaxFieldsRule,
} from '../../src/server/protection.js';
import { ensureBenchLogins, withClient } from '../shared/database.js';
import { memorySummary, startGatewayProcess } from '../shared/gatewayProcess.js';
import { summarize, type LatencySummary } from '../shared/load.js';
import { asLogin, BENCH_GATEWAY_LOGIN, type BenchSettings } from '../shared/settings.js';

/**
 * The validation phase: documents whose fragments expand enormously (the review's 1 KB document of
 * 24 fragments each spreading the next twice, and a wider one) sent back to back by several clients,
 * while one client polls /healthz. Reports the gateway time per refused document and /healthz
 * latency under that load against idle. It needs no data, so it uses a small database of its own
 * (created and migrated when missing), not the 100k-listing one. See bench/README.md.
 */

export const VALIDATION_DATABASE = 'lodestar_bench_validation';
const CONCURRENCY = 4;
const LOAD_MS = 8000;
const IDLE_PROBES = 300;
/** /healthz is polled back to back with this pause, idle and under load alike. */
const PROBE_PAUSE_MS = 5;

export interface ValidationDocument {
  name: string;
  bytes: number;
  /**
   * CPU of parsing and validating it with the gateway's rules (graphql-js's and ours, its settings),
   * in the bench process, mean of 300: the work a refusal costs without HTTP and without the load.
   */
  validateCpuMs: number;
  /** Field selections once the fragments are expanded (what the gateway refuses). */
  expandedFields: number;
  requests: number;
  /** Answered 400 QUERY_TOO_COMPLEX; anything else counts as unexpected. */
  refused: number;
  unexpected: number;
  firstUnexpected: string | null;
  latencyMs: LatencySummary;
}

export interface ValidationResults {
  date: string;
  concurrency: number;
  loadSec: number;
  documents: ValidationDocument[];
  /** Refused documents per second over all clients. */
  refusedPerSec: number;
  /**
   * The gateway's own time per refused document, from its histogram
   * lodestar_graphql_request_duration_seconds{operation="anonymous"} (Apollo's request start to response).
   */
  gatewayMsPerDocument: number | null;
  healthz: { idle: LatencySummary & { probes: number }; underLoad: LatencySummary & { probes: number } };
  healthzFailures: number;
  peakRssMb: number | null;
  exit: string;
  /** os.loadavg() at the end: the machine is shared, so latencies depend on what else ran. */
  loadAverage: number[];
}

/** `fragments` fragments on Listing, each spreading the next `spreads` times. */
export function fragmentBomb(fragments: number, spreads: number): { source: string; expandedFields: number } {
  const parts = ['{ listings(first: 1) { edges { node { ...F0 } } } }'];
  for (let i = 0; i < fragments; i += 1) {
    const body =
      i + 1 < fragments ? Array.from({ length: spreads }, () => `...F${i + 1}`).join(' ') : 'title';
    parts.push(`fragment F${i} on Listing { id ${body} }`);
  }
  // The last fragment has 2 fields; each earlier one 1 + spreads × the next; plus listings/edges/node.
  let fields = 2;
  for (let i = fragments - 2; i >= 0; i -= 1) fields = 1 + spreads * fields;
  return { source: parts.join('\n'), expandedFields: 3 + fields };
}

/** Mean CPU ms of parse + validate (the gateway's rules and limits from `env`) over 300 runs, after 30 unmeasured. */
function validationCpuMs(source: string, env: Record<string, string>): number {
  const { graphql } = loadConfig({ ...env, PORT: '0' });
  const rules = [
    ...specifiedRules,
    createMaxFieldsRule(graphql.maxFields),
    createMaxDepthRule(graphql.maxDepth),
    createMaxAliasesRule(graphql.maxAliases),
  ];
  const schema = createSchema();
  const once = () => validate(schema, parse(source, { maxTokens: graphql.maxTokens }), rules);
  for (let i = 0; i < 30; i += 1) once();
  const start = process.cpuUsage();
  for (let i = 0; i < 300; i += 1) once();
  const used = process.cpuUsage(start);
  return Math.round(((used.user + used.system) / 1000 / 300) * 1000) / 1000;
}

function request(
  agent: http.Agent,
  url: URL,
  body?: string,
): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        agent,
        headers:
          body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Sum and count of the anonymous operations' duration histogram on a gateway's /metrics. */
async function anonymousDuration(metricsUrl: string): Promise<{ sum: number; count: number } | null> {
  const res = await fetch(metricsUrl).catch(() => null);
  if (!res?.ok) return null;
  const text = await res.text();
  const read = (suffix: string) =>
    Number(
      new RegExp(
        `^lodestar_graphql_request_duration_seconds_${suffix}\\{operation="anonymous"\\} (\\S+)$`,
        'm',
      ).exec(text)?.[1] ?? 0,
    );
  return { sum: read('sum'), count: read('count') };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function probeHealthz(base: string, until: () => boolean, max = Infinity) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL('/healthz', base);
  const latencies: number[] = [];
  let failures = 0;
  try {
    while (!until() && latencies.length + failures < max) {
      const res = await request(agent, url).catch(() => null);
      if (res?.status === 200) latencies.push(res.ms);
      else failures += 1;
      await pause(PROBE_PAUSE_MS);
    }
  } finally {
    agent.destroy();
  }
  return { latencies, failures };
}

async function ensureDatabase(settings: BenchSettings): Promise<string> {
  const url = new URL(settings.adminUrl);
  url.pathname = `/${VALIDATION_DATABASE}`;
  await withClient(settings.adminUrl, async (admin) => {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      VALIDATION_DATABASE,
    ]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${VALIDATION_DATABASE}`);
  });
  const applied = await migrateUrl(url.toString());
  await ensureBenchLogins(url.toString());
  console.log(
    `validation: database ${VALIDATION_DATABASE}${applied.length ? `, applied ${applied.length} migration(s)` : ' (migrated)'}`,
  );
  return asLogin(url.toString(), BENCH_GATEWAY_LOGIN);
}

export async function runValidationPhase(
  env: Record<string, string>,
  settings: BenchSettings,
): Promise<ValidationResults> {
  const databaseUrl = await ensureDatabase(settings);
  const gateway = await startGatewayProcess({ ...env, DATABASE_URL: databaseUrl }, 'gateway (validation)');
  let exit = 'not stopped';
  try {
    const idle = await probeHealthz(gateway.url, () => false, IDLE_PROBES);
    console.log(`validation: /healthz idle p95 ${summarize(idle.latencies).p95} ms`);

    const docs = [
      { name: '24 fragments × 2 spreads', ...fragmentBomb(24, 2) },
      { name: '10 fragments × 10 spreads', ...fragmentBomb(10, 10) },
    ];
    const stats = docs.map(() => ({
      latencies: [] as number[],
      refused: 0,
      unexpected: 0,
      first: null as string | null,
    }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const graphqlUrl = new URL('/graphql', gateway.url);
    const deadline = performance.now() + LOAD_MS;
    const done = () => performance.now() >= deadline;
    const before = await anonymousDuration(gateway.metricsUrl);
    const started = performance.now();
    const worker = async (slot: number) => {
      for (let i = slot; !done(); i += CONCURRENCY) {
        const index = i % docs.length;
        const doc = docs[index]!;
        const stat = stats[index]!;
        const res = await request(agent, graphqlUrl, JSON.stringify({ query: doc.source }));
        stat.latencies.push(res.ms);
        if (res.status === 400 && res.text.includes('"QUERY_TOO_COMPLEX"')) stat.refused += 1;
        else {
          stat.unexpected += 1;
          stat.first ??= `HTTP ${res.status}: ${res.text.slice(0, 200)}`;
        }
      }
    };
    const [, health] = await Promise.all([
      Promise.all(Array.from({ length: CONCURRENCY }, (_, slot) => worker(slot))),
      probeHealthz(gateway.url, done),
    ]);
    const elapsedSec = (performance.now() - started) / 1000;
    agent.destroy();
    const after = await anonymousDuration(gateway.metricsUrl);
    const counted = before && after ? after.count - before.count : 0;
    const gatewayMsPerDocument =
      before && after && counted > 0 ? Math.round(((after.sum - before.sum) / counted) * 1e5) / 100 : null;
    const memory = await memorySummary(gateway);
    exit = await gateway.stop();
    const documents = docs.map((doc, i): ValidationDocument => {
      const stat = stats[i]!;
      return {
        name: doc.name,
        bytes: Buffer.byteLength(doc.source),
        validateCpuMs: validationCpuMs(doc.source, env),
        expandedFields: doc.expandedFields,
        requests: stat.latencies.length,
        refused: stat.refused,
        unexpected: stat.unexpected,
        firstUnexpected: stat.first,
        latencyMs: summarize(stat.latencies),
      };
    });
    const refused = documents.reduce((n, d) => n + d.refused, 0);
    return {
      date: new Date().toISOString(),
      concurrency: CONCURRENCY,
      loadSec: Math.round(elapsedSec * 10) / 10,
      documents,
      refusedPerSec: Math.round(refused / elapsedSec),
      gatewayMsPerDocument,
      healthz: {
        idle: { ...summarize(idle.latencies), probes: idle.latencies.length },
        underLoad: { ...summarize(health.latencies), probes: health.latencies.length },
      },
      healthzFailures: idle.failures + health.failures,
      peakRssMb: memory.peakRssMb,
      exit,
      loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
    };
  } finally {
    if (exit === 'not stopped') await gateway.stop();
  }
}

export function validationMarkdown(r: ValidationResults): string {
  const rows = r.documents.map(
    (d) =>
      `| ${d.name} | ${d.bytes} | ${d.expandedFields.toExponential(2)} | ${d.validateCpuMs} | ${d.requests} | ${d.refused} | ${d.unexpected} | ${d.latencyMs.p50} | ${d.latencyMs.p95} | ${d.latencyMs.max} |`,
  );
  const h = r.healthz;
  return [
    `## Validation phase (${r.date})`,
    '',
    `Fragment-bomb documents from ${r.concurrency} clients back to back for ${r.loadSec} s ` +
      `(${r.refusedPerSec} refused/s), /healthz polled meanwhile. The gateway's own time per refused document ` +
      `(Apollo request start to response, its duration histogram): ${r.gatewayMsPerDocument ?? '?'} ms; the ` +
      `latencies below are the clients', with ${r.concurrency} documents in flight at once. ` +
      `Gateway exit: ${r.exit}; peak RSS ${r.peakRssMb ?? '?'} MB; load average at the end ${r.loadAverage.join(', ')}.`,
    '',
    '| document | bytes | expanded fields | parse + validate CPU ms | requests | refused (400 QUERY_TOO_COMPLEX) | other | p50 ms | p95 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    '| /healthz | probes | p50 ms | p95 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| idle | ${h.idle.probes} | ${h.idle.p50} | ${h.idle.p95} | ${h.idle.max} |`,
    `| under the load above | ${h.underLoad.probes} | ${h.underLoad.p50} | ${h.underLoad.p95} | ${h.underLoad.max} |`,
    '',
    `/healthz failures: ${r.healthzFailures}.`,
    '',
  ].join('\n');
}
