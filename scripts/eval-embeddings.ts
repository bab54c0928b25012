// npm run eval:embeddings -- [--file interactions.csv|.ndjson] [--min-rating 4] [--seed 7] [--users 1000]
//   [--items 1700] [--sharpness 8] [--popularity-exponent 0.7] [--noise 0.15] [--sessions 0] [--category-signal 1] [--taste-modes 0] [--k 10] [--test-fraction 0.2] [--min-positives 5] [--rank 64] [--power-iterations 3]
//   [--weighting binary|log|bm25|userNormalised] [--factor-scaling none|sqrt|full]
//   [--popularity-damping 0..1] [--variants] [--json]
// Offline evaluation of the interaction embeddings (issue #15 item 4) with issue #16's protocol: per
// user the last 20 % of positives by time are the test set, the rest train; users with < 5 positives
// are not scored; embeddings are fit on train only. Compares random, most popular and nearest items to
// the mean of the user's liked-item embeddings (P@k, NDCG@k, HR@k, coverage) on a seeded synthetic
// dataset shaped like #16's, or on a file of `user,item,timestamp[,rating]` rows. `--variants` adds a
// table over weighting, factor scaling, popularity damping, rank and power iterations (how the
// defaults were chosen). Deterministic: the same flags print the same numbers.
import { parseArgs } from 'node:util';
import {
  DEFAULT_INTERACTION_EMBEDDING_OPTIONS,
  EmbeddingOptionsError,
  interactionEmbeddings,
  resolveInteractionEmbeddingOptions,
  type InteractionEmbeddingOptions,
} from '../src/embeddings/interactionEmbeddings.js';
import {
  embeddingNearestRecommender,
  evaluateRecommender,
  mostPopularRecommender,
  randomRecommender,
} from '../src/embeddings/offlineEvaluation.js';
import type { MetricSummary } from '../src/embeddings/rankingMetrics.js';
import {
  DEFAULT_SYNTHETIC,
  SYNTHETIC_MODEL_FLAGS,
  SYNTHETIC_MODEL_OPTIONS,
  describeSyntheticModel,
  parseSyntheticModel,
  syntheticInteractions,
} from '../src/embeddings/syntheticInteractions.js';
import { splitByTime, type TimedInteractions, type TimeSplit } from '../src/embeddings/timeSplit.js';
import { readInteractionFile } from './eval-embeddings/readInteractionFile.js';

function fail(message: string): never {
  console.error(`eval-embeddings: ${message} (see --help)`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        file: { type: 'string' },
        'min-rating': { type: 'string' },
        seed: { type: 'string', default: String(DEFAULT_SYNTHETIC.seed) },
        users: { type: 'string', default: String(DEFAULT_SYNTHETIC.users) },
        items: { type: 'string', default: String(DEFAULT_SYNTHETIC.items) },
        ...SYNTHETIC_MODEL_OPTIONS,
        k: { type: 'string', default: '10' },
        'test-fraction': { type: 'string', default: '0.2' },
        'min-positives': { type: 'string', default: '5' },
        rank: { type: 'string', default: String(DEFAULT_INTERACTION_EMBEDDING_OPTIONS.rank) },
        'power-iterations': {
          type: 'string',
          default: String(DEFAULT_INTERACTION_EMBEDDING_OPTIONS.powerIterations),
        },
        weighting: { type: 'string', default: DEFAULT_INTERACTION_EMBEDDING_OPTIONS.weighting },
        'factor-scaling': { type: 'string', default: DEFAULT_INTERACTION_EMBEDDING_OPTIONS.factorScaling },
        'popularity-damping': {
          type: 'string',
          default: String(DEFAULT_INTERACTION_EMBEDDING_OPTIONS.popularityDamping),
        },
        variants: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
})();

if (flags.help === true) {
  console.log(
    'usage: npm run eval:embeddings -- [--file F.csv|F.ndjson] [--min-rating R] [--seed N] [--users N] [--items N]\n' +
      '         [--sharpness X] [--popularity-exponent X] [--noise F] [--sessions F] [--category-signal X] [--taste-modes F]   (the synthetic choice model)\n' +
      '         [--k N] [--test-fraction F] [--min-positives N] [--rank 64..128] [--power-iterations 0..8]\n' +
      '         [--weighting binary|log|bm25|userNormalised] [--factor-scaling none|sqrt|full]\n' +
      '         [--popularity-damping 0..1] [--variants] [--json]',
  );
  process.exit(0);
}

function numberFlag(name: string, raw: string | undefined, whole: boolean): number {
  const value = Number(raw);
  if (
    raw === undefined ||
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    (whole && !Number.isInteger(value))
  )
    fail(`--${name} must be ${whole ? 'a whole number' : 'a number'}, got "${raw}"`);
  return value;
}

const k = numberFlag('k', flags.k, true);
const splitOptions = {
  testFraction: numberFlag('test-fraction', flags['test-fraction'], false),
  minPositives: numberFlag('min-positives', flags['min-positives'], true),
};
const baseOptions: InteractionEmbeddingOptions = {
  rank: numberFlag('rank', flags.rank, true),
  powerIterations: numberFlag('power-iterations', flags['power-iterations'], true),
  weighting: flags.weighting as InteractionEmbeddingOptions['weighting'],
  factorScaling: flags['factor-scaling'] as InteractionEmbeddingOptions['factorScaling'],
  popularityDamping: numberFlag('popularity-damping', flags['popularity-damping'], false),
  seed: numberFlag('seed', flags.seed, true),
};

const syntheticModel = (() => {
  try {
    return parseSyntheticModel(flags);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
})();
if (flags.file !== undefined && SYNTHETIC_MODEL_FLAGS.some((flag) => flag in flags))
  fail(`${SYNTHETIC_MODEL_FLAGS.map((flag) => `--${flag}`).join(', ')} describe synthetic data, not --file`);

try {
  resolveInteractionEmbeddingOptions(baseOptions);
} catch (error) {
  if (!(error instanceof EmbeddingOptionsError)) throw error;
  // The option names are the flags' camelCase: "powerIterations must …" -> "--power-iterations must …".
  fail(`--${error.message.replace(/^\w+/, (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))}`);
}

interface DatasetStats {
  source: string;
  users: number;
  items: number;
  positives: number;
  density: number;
  medianPositivesPerUser: number;
  topTenPercentItemsShare: number;
  days: number;
  scoredUsers: number;
  trainPositives: number;
}

function statsOf(source: string, data: TimedInteractions, split: TimeSplit): DatasetStats {
  const perUser = new Uint32Array(data.nUsers);
  for (const u of data.userIndex) perUser[u]! += 1;
  const active = [...perUser].filter((n) => n > 0).sort((a, b) => a - b);
  const perItem = new Float64Array(data.nItems);
  for (const i of data.itemIndex) perItem[i]! += 1;
  const byPopularity = [...perItem].sort((a, b) => b - a);
  const top = byPopularity.slice(0, Math.ceil(data.nItems / 10)).reduce((a, b) => a + b, 0);
  let first = Infinity;
  let last = -Infinity;
  for (const t of data.time) {
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  const n = data.userIndex.length;
  return {
    source,
    users: data.nUsers,
    items: data.nItems,
    positives: n,
    density: n / (data.nUsers * data.nItems),
    medianPositivesPerUser: active[active.length >> 1] ?? 0,
    topTenPercentItemsShare: n === 0 ? 0 : top / n,
    days: n === 0 ? 0 : (last - first) / 86_400_000,
    scoredUsers: split.scoredUsers,
    trainPositives: split.train.userIndex.length,
  };
}

function fit(
  split: TimeSplit,
  options: InteractionEmbeddingOptions,
): { summary: MetricSummary; ms: number; embedded: number } {
  const { train } = split;
  const started = performance.now();
  const embeddings = interactionEmbeddings(
    { ...train, weight: new Float32Array(train.userIndex.length).fill(1) },
    options,
  );
  const ms = performance.now() - started;
  const summary = evaluateRecommender(
    split,
    embeddingNearestRecommender(embeddings.factors, train.nItems),
    k,
  );
  return { summary, ms, embedded: embeddings.embeddedItems };
}

const describe = (o: InteractionEmbeddingOptions): string =>
  `rank ${o.rank}, q ${o.powerIterations}, ${o.weighting}, ${o.factorScaling}, damping ${o.popularityDamping}`;

async function main(): Promise<void> {
  const data: TimedInteractions = flags.file
    ? await readInteractionFile(
        flags.file,
        flags['min-rating'] === undefined ? undefined : numberFlag('min-rating', flags['min-rating'], false),
      )
    : syntheticInteractions({
        ...syntheticModel,
        seed: baseOptions.seed!,
        users: numberFlag('users', flags.users, true),
        items: numberFlag('items', flags.items, true),
      });
  const split = splitByTime(data, splitOptions);
  const knobs = describeSyntheticModel(syntheticModel);
  const stats = statsOf(
    flags.file ?? `synthetic (seed ${baseOptions.seed}${knobs && `, ${knobs}`})`,
    data,
    split,
  );

  const main = fit(split, baseOptions);
  const rows: { method: string; summary: MetricSummary }[] = [
    {
      method: 'random',
      summary: evaluateRecommender(split, randomRecommender(data.nItems, baseOptions.seed!), k),
    },
    {
      method: 'most popular (train positives)',
      summary: evaluateRecommender(split, mostPopularRecommender(split.train), k),
    },
    { method: `nearest to mean of liked-item embeddings (${describe(baseOptions)})`, summary: main.summary },
  ];

  const variants: { options: InteractionEmbeddingOptions; summary: MetricSummary; ms: number }[] = [];
  if (flags.variants === true) {
    const grid: InteractionEmbeddingOptions[] = [];
    for (const weighting of ['binary', 'bm25', 'userNormalised'] as const)
      for (const factorScaling of ['none', 'sqrt', 'full'] as const)
        grid.push({ ...baseOptions, weighting, factorScaling, popularityDamping: 0 });
    for (const popularityDamping of [0.1, 0.25, 0.5, 1])
      grid.push({ ...baseOptions, factorScaling: 'full', popularityDamping });
    for (const rank of [96, 128]) grid.push({ ...baseOptions, rank });
    for (const powerIterations of [1, 2, 4]) grid.push({ ...baseOptions, powerIterations });
    for (const options of grid) {
      const result = fit(split, options);
      variants.push({ options, summary: result.summary, ms: result.ms });
    }
  }

  if (flags.json === true) {
    console.log(
      JSON.stringify({ stats, k, fitMs: main.ms, embeddedItems: main.embedded, rows, variants }, null, 2),
    );
    return;
  }
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  console.log(`### Offline evaluation: ${stats.source}\n`);
  console.log(
    `${stats.users} users, ${stats.items} items, ${stats.positives} positives over ${stats.days.toFixed(0)} days ` +
      `(density ${pct(stats.density)}), median ${stats.medianPositivesPerUser} positives per user, the top 10 % of ` +
      `items hold ${pct(stats.topTenPercentItemsShare)} of positives. Split: last ${pct(splitOptions.testFraction)} ` +
      `of each user's positives by time held out, ${stats.scoredUsers} users scored (>= ${splitOptions.minPositives} ` +
      `positives), ${stats.trainPositives} train positives. Fit on train: ${main.ms.toFixed(0)} ms, ` +
      `${main.embedded} of ${stats.items} items embedded.\n`,
  );
  const line = (method: string, s: MetricSummary): string =>
    `| ${method} | ${s.precision.toFixed(3)} | ${s.ndcg.toFixed(3)} | ${s.hitRate.toFixed(2)} | ${s.coverage.toFixed(2)} |`;
  console.log(`| method | P@${k} | NDCG@${k} | HR@${k} | coverage |\n|---|---|---|---|---|`);
  for (const row of rows) console.log(line(row.method, row.summary));
  if (variants.length > 0) {
    console.log(
      `\n| embedding variant | P@${k} | NDCG@${k} | HR@${k} | coverage | fit ms |\n|---|---|---|---|---|---|`,
    );
    for (const v of variants) console.log(`${line(describe(v.options), v.summary)} ${v.ms.toFixed(0)} |`);
  }
}

await main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
