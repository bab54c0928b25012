// npm run import:sample -- --out DIR [--preset issue16] [--users N] [--items N] [--interactions N]
//   [--categories 19] [--interests-per-category 3] [--months 7] [--seed 16] [--no-embeddings] [--dim 384]
//   [--end 2026-11-30T00:00:00Z]
// A synthetic dataset in the bulk importer's file formats (categories.csv, users.ndjson, interests.ndjson,
// listings.ndjson, user-interests.csv, interactions.csv), shaped like issue 16's dataset by default. With
// only --interactions given, users and items scale with it (100 interactions and 1.7 items per user), so
// `--interactions 1000000` is 10k users and 17k items: the importer's speed measurement.
import { parseArgs } from 'node:util';
import {
  generateImportData,
  INTERACTIONS_PER_USER,
  ISSUE16_PRESET,
  ITEMS_PER_USER,
  type ImportDataOptions,
} from './importData/generateImportData.js';

const PRESETS: Record<string, Omit<ImportDataOptions, 'out'>> = { issue16: ISSUE16_PRESET };

function fail(message: string): never {
  console.error(`gen-import-data: ${message}`);
  process.exit(2);
}

function whole(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) fail(`--${name} must be a whole number ≥ ${min}`);
  return Number(value);
}

function parseOptions(): ImportDataOptions {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      preset: { type: 'string', default: 'issue16' },
      users: { type: 'string' },
      items: { type: 'string' },
      interactions: { type: 'string' },
      categories: { type: 'string' },
      'interests-per-category': { type: 'string' },
      months: { type: 'string' },
      seed: { type: 'string' },
      dim: { type: 'string' },
      end: { type: 'string' },
      'no-embeddings': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run import:sample -- --out DIR [--preset issue16] [--users N] [--items N] [--interactions N]\n' +
        '  [--categories N] [--interests-per-category N] [--months N] [--seed N] [--dim N] [--end ISO] [--no-embeddings]',
    );
    process.exit(0);
  }
  if (!values.out) fail('--out DIR is required');
  const preset = PRESETS[values.preset];
  if (!preset) fail(`unknown --preset ${values.preset} (known: ${Object.keys(PRESETS).join(', ')})`);
  const interactions = whole('interactions', values.interactions, 0) ?? preset.interactions;
  const scaled = values.interactions !== undefined;
  const users =
    whole('users', values.users, 2) ??
    (scaled ? Math.max(2, Math.round(interactions / INTERACTIONS_PER_USER)) : preset.users);
  const end = values.end ?? preset.end;
  if (Number.isNaN(Date.parse(end))) fail('--end must be an ISO timestamp');
  return {
    out: values.out,
    seed: whole('seed', values.seed, 0) ?? preset.seed,
    users,
    items: whole('items', values.items, 1) ?? (scaled ? Math.round(users * ITEMS_PER_USER) : preset.items),
    interactions,
    categories: whole('categories', values.categories, 1) ?? preset.categories,
    interestsPerCategory:
      whole('interests-per-category', values['interests-per-category'], 1) ?? preset.interestsPerCategory,
    months: whole('months', values.months, 1) ?? preset.months,
    embeddings: !values['no-embeddings'] && preset.embeddings,
    dim: whole('dim', values.dim, 1) ?? preset.dim,
    end: new Date(end).toISOString(),
  };
}

const options = parseOptions();
const started = performance.now();
const counts = await generateImportData(options);
console.log(JSON.stringify({ out: options.out, ...counts, ms: Math.round(performance.now() - started) }));
