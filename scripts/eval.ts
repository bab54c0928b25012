/**
 * npm run eval -- [--dataset synthetic|seed] [--from-database URL] [--ablation | --variants LIST] ...
 *
 * Issue #16's offline evaluation through the real feed (src/evaluation/runEvaluation.ts) on a scratch
 * database created on DATABASE_URL's server and dropped at the end. Prints a markdown table and writes
 * it with the JSON report to --out. Exit codes: 0 done, 1 the run failed, 2 bad command line.
 * Docs: docs/recommendations.md, "Offline evaluation".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_SYNTHETIC,
  SYNTHETIC_MODEL_FLAGS,
  SYNTHETIC_MODEL_OPTIONS,
  parseSyntheticModel,
} from '../src/embeddings/syntheticInteractions.js';
import { redactUrl } from '../src/db/redactUrl.js';
import { FACTOR_SCALINGS, INTERACTION_WEIGHTINGS } from '../src/embeddings/interactionEmbeddings.js';
import { DEFAULT_EASE_LAMBDA, EASE_MAX_ITEMS } from '../src/evaluation/ease.js';
import { formatReport } from '../src/evaluation/report.js';
import { runEvaluation, type DatasetSpec, type EmbeddingFit } from '../src/evaluation/runEvaluation.js';
import { EvaluationError, type ScratchDatabase } from '../src/evaluation/scratchDatabase.js';
import { ABLATION, parseVariants, type Variant } from '../src/evaluation/variants.js';

const HELP = `Usage: npm run eval -- [options]

Evaluates the feed offline through its real code path (suggestions()) on a scratch database created on
the Postgres server of --database-url (default $MIGRATION_DATABASE_URL, else $DATABASE_URL) and dropped
at the end. Connect as a role that may CREATE DATABASE (the migration role or postgres).

Data (one of):
  --dataset synthetic     issue #16-shaped synthetic likes, loaded with the importer (default)
      --users N (${DEFAULT_SYNTHETIC.users})  --items N (${DEFAULT_SYNTHETIC.items})  --seed S (${DEFAULT_SYNTHETIC.seed})
      the choice model: --sharpness X (${DEFAULT_SYNTHETIC.sharpness}: taste over popularity)
      --popularity-exponent X (${DEFAULT_SYNTHETIC.popularityExponent}: Zipf)  --noise F (${DEFAULT_SYNTHETIC.noise}: share of taste-blind likes)
      --sessions F (${DEFAULT_SYNTHETIC.sessions}: share of likes drawn near the user's previous like)
      --category-signal X (${DEFAULT_SYNTHETIC.categorySignal}: weight of categories in tastes; lower: like broad genres)
      --taste-modes F (${DEFAULT_SYNTHETIC.tasteModes}: share of taste-driven likes drawn from one of the user's interests,
        not their blend; users of two or more interests, likes not drawn by --sessions)
  --dataset seed          the project's seeder: --users N (200) --listings N (2000) --seed S (42)
  --from-database URL     a copy of that database (CREATE DATABASE … TEMPLATE: it must be idle)
Protocol:
  --test-share F          last share of each user's likes by time held out (0.2)
  --min-positives N       users with fewer likes are not scored (5)
  --max-users N           score at most N users (default all)
  --k N                   page size and metric cut-off (10)
  --item-embeddings train|keep   train: rank-64 SVD of the train likes over every listing (default for
                          synthetic and --from-database; keep for seed)
  --weighting binary|log|bm25|userNormalised, --factor-scaling none|sqrt|full,
  --popularity-damping 0..1   with --item-embeddings train: fit the SVD otherwise than the importer
                          (whose fit is log, full, 0.25), e.g. binary/none/0 for a plain SVD such as
                          a marketplace's own model might be (docs/recommendations.md, "Vectors from
                          elsewhere")
  --interests train|keep  train: declared interests = categories of the train likes by share (default
                          for synthetic; keep otherwise)
  --ease-lambda X         λ of the EASE reference, a full item-to-item model of the train likes
                          (${DEFAULT_EASE_LAMBDA}; 0 leaves it out; left out by itself above ${EASE_MAX_ITEMS} liked listings)
Variants (each an environment override set; default: the configuration as it is):
  --ablation              ${ABLATION.map((v) => v.name).join(', ')}
  --variants LIST         comma-separated ablation names or name:KEY=V+KEY=V
  --concurrency N         feed requests in flight (4)
Learned ranking (variants with FEED_RANKER=learned; train data only, see docs/recommendations.md):
  --feedback-share F      share of each user's train likes held back as feedback for a logging round
                          before the variants (0.2; 0 = none: learned serves the defaults)
  --feedback-page N       page size of the logging round (20)
  --feedback-min-events N labelled impressions ranker_training needs (1000)
  --feedback-examination X  position bias of the round's reactions: a held-back like at position p of
                          the feed counts with chance (1 + p)^-X (0: every one counts; 0-4)
Output:
  --out DIR               markdown and JSON report (eval-results/)
  --keep                  keep the scratch database (its name is printed)
  -h, --help`;

function fail(message: string): never {
  console.error(`eval: ${message} (see --help)`);
  process.exit(2);
}

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        dataset: { type: 'string' },
        'from-database': { type: 'string' },
        users: { type: 'string' },
        items: { type: 'string' },
        listings: { type: 'string' },
        seed: { type: 'string' },
        ...SYNTHETIC_MODEL_OPTIONS,
        'test-share': { type: 'string', default: '0.2' },
        'min-positives': { type: 'string', default: '5' },
        'max-users': { type: 'string' },
        k: { type: 'string', default: '10' },
        'item-embeddings': { type: 'string' },
        weighting: { type: 'string' },
        'factor-scaling': { type: 'string' },
        'popularity-damping': { type: 'string' },
        interests: { type: 'string' },
        'ease-lambda': { type: 'string' },
        ablation: { type: 'boolean', default: false },
        variants: { type: 'string' },
        concurrency: { type: 'string', default: '4' },
        'feedback-share': { type: 'string', default: '0.2' },
        'feedback-page': { type: 'string', default: '20' },
        'feedback-min-events': { type: 'string', default: '1000' },
        'feedback-examination': { type: 'string', default: '0' },
        out: { type: 'string', default: 'eval-results' },
        keep: { type: 'boolean', default: false },
        'database-url': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
})();

if (parsed.help) {
  console.log(HELP);
  process.exit(0);
}

function whole(name: string, raw: string | undefined, min: number, max: number, fallback?: number): number {
  if (raw === undefined && fallback !== undefined) return fallback;
  const value = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    fail(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

function share(name: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !(value > 0 && value < 1))
    fail(`--${name} must be a number between 0 and 1, got "${raw}"`);
  return value;
}

function choice<T extends string>(
  name: string,
  raw: string | undefined,
  options: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  if (!(options as readonly string[]).includes(raw))
    fail(`--${name} must be one of ${options.join(', ')}, got "${raw}"`);
  return raw as T;
}

function isPostgresUrl(url: string): boolean {
  try {
    return ['postgres:', 'postgresql:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

const fromDatabase = parsed['from-database'];
if (fromDatabase !== undefined && !isPostgresUrl(fromDatabase))
  fail('--from-database must be a postgresql:// URL');
if (fromDatabase !== undefined && parsed.dataset !== undefined)
  fail('--dataset and --from-database exclude each other: the data is the database');
const kind =
  fromDatabase !== undefined
    ? 'database'
    : choice('dataset', parsed.dataset, ['synthetic', 'seed'], 'synthetic');
const seedFlag = (fallback: number) => whole('seed', parsed.seed, 0, 2 ** 31 - 1, fallback);
const dataset: DatasetSpec =
  kind === 'database'
    ? { kind, url: fromDatabase! }
    : kind === 'seed'
      ? {
          kind,
          users: whole('users', parsed.users, 1, 10_000_000, 200),
          listings: whole('listings', parsed.listings, 1, 10_000_000, 2000),
          seed: seedFlag(42),
        }
      : {
          kind,
          users: whole('users', parsed.users, 2, 1_000_000, DEFAULT_SYNTHETIC.users),
          items: whole('items', parsed.items, 10, 1_000_000, DEFAULT_SYNTHETIC.items),
          seed: seedFlag(DEFAULT_SYNTHETIC.seed),
          model: (() => {
            try {
              return parseSyntheticModel(parsed);
            } catch (error) {
              fail(error instanceof Error ? error.message : String(error));
            }
          })(),
        };
if (kind !== 'synthetic' && parsed.items !== undefined) fail('--items is for --dataset synthetic');
for (const flag of SYNTHETIC_MODEL_FLAGS)
  if (kind !== 'synthetic' && flag in parsed) fail(`--${flag} is for --dataset synthetic`);
if (kind !== 'seed' && parsed.listings !== undefined) fail('--listings is for --dataset seed');
if (kind === 'database' && (parsed.users !== undefined || parsed.seed !== undefined))
  fail('--users and --seed describe generated data, not --from-database');

const serverUrl =
  parsed['database-url'] ?? process.env.MIGRATION_DATABASE_URL ?? process.env.DATABASE_URL ?? fromDatabase;
if (serverUrl === undefined || serverUrl === '' || !isPostgresUrl(serverUrl))
  fail(
    'the harness needs Postgres (it creates and drops a scratch database): set DATABASE_URL or pass ' +
      '--database-url postgresql://… — the embedded development database cannot hold one',
  );

let variants: Variant[];
try {
  if (parsed.ablation && parsed.variants !== undefined) fail('--ablation and --variants exclude each other');
  variants = parsed.ablation
    ? [...ABLATION]
    : parsed.variants !== undefined
      ? parseVariants(parsed.variants)
      : [{ name: 'as configured', env: {} }];
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

const itemEmbeddings = choice(
  'item-embeddings',
  parsed['item-embeddings'],
  ['train', 'keep'],
  kind === 'seed' ? 'keep' : 'train',
);
const embeddingFit: EmbeddingFit | null = (() => {
  const damping = parsed['popularity-damping'];
  if (damping !== undefined && !(/^(\d+(\.\d*)?|\.\d+)$/.test(damping) && Number(damping) <= 1))
    fail(`--popularity-damping must be a number from 0 to 1, got "${damping}"`);
  const fit: EmbeddingFit = {
    ...(parsed.weighting === undefined
      ? {}
      : { weighting: choice('weighting', parsed.weighting, INTERACTION_WEIGHTINGS, 'log') }),
    ...(parsed['factor-scaling'] === undefined
      ? {}
      : { factorScaling: choice('factor-scaling', parsed['factor-scaling'], FACTOR_SCALINGS, 'full') }),
    ...(damping === undefined ? {} : { popularityDamping: Number(damping) }),
  };
  const given = ['weighting', 'factor-scaling', 'popularity-damping'].filter((flag) => flag in parsed);
  if (given.length === 0) return null;
  if (itemEmbeddings !== 'train')
    fail(
      `${given.map((flag) => `--${flag}`).join(', ')} ${given.length === 1 ? 'fits' : 'fit'} the vectors of ` +
        `--item-embeddings train; this run ` +
        `keeps the stored ones${parsed['item-embeddings'] === undefined ? ` (the default for --dataset ${kind})` : ''}`,
    );
  return fit;
})();

const options = {
  serverUrl,
  dataset,
  testShare: share('test-share', parsed['test-share']),
  minPositives: whole('min-positives', parsed['min-positives'], 2, 1_000_000),
  maxUsers: parsed['max-users'] === undefined ? null : whole('max-users', parsed['max-users'], 1, 10_000_000),
  k: whole('k', parsed.k, 1, 100),
  itemEmbeddings,
  ...(embeddingFit ? { embeddingFit } : {}),
  interests: choice(
    'interests',
    parsed.interests,
    ['train', 'keep'],
    kind === 'synthetic' ? 'train' : 'keep',
  ),
  easeLambda: (() => {
    const raw = parsed['ease-lambda'];
    if (raw === undefined) return DEFAULT_EASE_LAMBDA;
    const value = Number(raw);
    if (raw.trim() === '' || !(value === 0 || (value >= 0.001 && value <= 1_000_000)))
      fail(`--ease-lambda must be 0 (no EASE) or a number from 0.001 to 1000000, got "${raw}"`);
    return value;
  })(),
  variants,
  concurrency: whole('concurrency', parsed.concurrency, 1, 64),
  feedback:
    parsed['feedback-share'].trim() === '0'
      ? null
      : {
          share: share('feedback-share', parsed['feedback-share']),
          pageSize: whole('feedback-page', parsed['feedback-page'], 1, 100),
          minEvents: whole('feedback-min-events', parsed['feedback-min-events'], 1, 100_000_000),
          examination: (() => {
            const raw = parsed['feedback-examination'];
            const value = Number(raw);
            if (raw.trim() === '' || !(value >= 0 && value <= 4))
              fail(`--feedback-examination must be a number from 0 to 4, got "${raw}"`);
            return value;
          })(),
        },
  seed: seedFlag(DEFAULT_SYNTHETIC.seed),
  keep: parsed.keep,
  env: process.env,
  log: (line: string) => console.error(line),
  onScratch: (scratch: ScratchDatabase) => {
    // Interrupted: the scratch database goes too (unless --keep), then the usual 130 / 143.
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(signal, () => {
        console.error(
          `eval: ${signal}; ${parsed.keep ? `keeping ${scratch.name}` : `dropping ${scratch.name}`}`,
        );
        void (parsed.keep ? Promise.resolve() : scratch.drop()).finally(() => process.exit(code));
      });
    }
  },
};

const commandLine = `npm run eval -- ${process.argv
  .slice(2)
  .map((a) => (isPostgresUrl(a) ? redactUrl(a) : a))
  .join(' ')}`.trim();
console.error(`eval: scratch database on ${redactUrl(serverUrl)}`);
try {
  const report = await runEvaluation(options);
  const markdown = formatReport(report, commandLine);
  console.log(markdown);
  await mkdir(parsed.out, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const base = path.join(parsed.out, `eval-${stamp}`);
  await writeFile(`${base}.md`, markdown);
  await writeFile(`${base}.json`, `${JSON.stringify({ ...report, commandLine }, null, 2)}\n`);
  console.error(`eval: wrote ${base}.md and ${base}.json`);
} catch (error) {
  if (error instanceof EvaluationError) {
    console.error(`eval: ${error.message}`);
    process.exit(2);
  }
  console.error(`eval: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
}
