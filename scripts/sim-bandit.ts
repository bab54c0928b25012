// npm run sim:bandit -- [--seed 7] [--users 500] [--impressions 50000] [--epsilon 0.1] [--slots 10]
//   [--category-cap 3] [--refresh-every 10] [--categories 8] [--exploit-prior A,B]
//   [--exploration-prior A,B] [--prior-strength 20] [--json]
// Offline comparison of the feed's exploration policies (the real ε-greedy and Thompson code) on synthetic
// viewers with known click probabilities. Deterministic: the same flags print the same numbers.
import { parseArgs } from 'node:util';
import type { SimulationConfig, SimulationReport } from '../src/feed/policies/index.js';
import { DEFAULT_SIMULATION, runSimulation, validateSimulationConfig } from '../src/feed/policies/index.js';

const FLAGS = {
  seed: 'seed',
  users: 'users',
  impressions: 'impressions',
  epsilon: 'epsilon',
  slots: 'slots',
  categoryCap: 'category-cap',
  refreshEvery: 'refresh-every',
  categories: 'categories',
  exploitPrior: 'exploit-prior',
  explorationPrior: 'exploration-prior',
  priorStrength: 'prior-strength',
} as const satisfies Record<keyof SimulationConfig, string>;

type FlagKey = keyof typeof FLAGS;
const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;
const DECIMAL_KEYS: readonly FlagKey[] = ['epsilon', 'priorStrength'];
const PRIOR_KEYS: readonly FlagKey[] = ['exploitPrior', 'explorationPrior'];

function fail(message: string): never {
  console.error(`sim-bandit: ${message} (see --help)`);
  process.exit(2);
}

function parseFlags(): { config: SimulationConfig; json: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        ...Object.fromEntries(Object.values(FLAGS).map((flag) => [flag, { type: 'string' as const }])),
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    console.log(
      'usage: npm run sim:bandit -- [--seed N] [--users N] [--impressions N] [--epsilon 0..1] [--slots N]\n' +
        '         [--category-cap N] [--refresh-every PAGES] [--categories N] [--exploit-prior ALPHA,BETA]\n' +
        '         [--exploration-prior ALPHA,BETA] [--prior-strength IMPRESSIONS] [--json]\n' +
        `defaults: ${JSON.stringify(DEFAULT_SIMULATION)}`,
    );
    process.exit(0);
  }
  const config: Record<string, unknown> = { ...DEFAULT_SIMULATION };
  for (const [key, flag] of Object.entries(FLAGS) as [FlagKey, string][]) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    if (PRIOR_KEYS.includes(key)) {
      const parts = raw.split(',').map((part) => part.trim());
      if (parts.length !== 2 || !parts.every((part) => DECIMAL.test(part)))
        fail(`--${flag} must be two numbers ALPHA,BETA such as 2,18, got "${raw}"`);
      config[key] = { alpha: Number(parts[0]), beta: Number(parts[1]) };
      continue;
    }
    const decimal = DECIMAL_KEYS.includes(key);
    if (!(decimal ? DECIMAL : /^\d+$/).test(raw.trim()))
      fail(`--${flag} must be ${decimal ? 'a number' : 'a whole number'}, got "${raw}"`);
    config[key] = Number(raw);
  }
  const checked = config as unknown as SimulationConfig;
  try {
    validateSimulationConfig(checked);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const key = Object.keys(FLAGS).find((name) => message.startsWith(`${name} `)) as FlagKey | undefined;
    fail(key ? `--${FLAGS[key]}${message.slice(key.length)}` : message);
  }
  return { config: checked, json: values.json === true };
}

function formatSetting(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'alpha' in value && 'beta' in value)
    return `${String(value.alpha)},${String(value.beta)}`;
  return String(value);
}

function printTable(report: SimulationReport): void {
  const { config } = report;
  console.log(
    `sim:bandit  ${Object.entries(config)
      .map(([key, value]) => `${FLAGS[key as FlagKey]}=${formatSetting(value)}`)
      .join(' ')}`,
  );
  console.log(`oracle: ${report.oracle}\n`);
  const header = [
    'policy',
    'impressions',
    'clicks',
    'CTR',
    'expected CTR',
    'regret',
    'regret/1k',
    'explored',
  ];
  const rows = report.results.map((r) => [
    r.policy,
    String(r.impressions),
    String(r.clicks),
    r.ctr.toFixed(4),
    (r.expectedClicks / r.impressions).toFixed(4),
    r.regret.toFixed(1),
    ((1000 * r.regret) / r.impressions).toFixed(2),
    `${(100 * r.explorationShare).toFixed(1)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  for (const row of [header, ...rows]) {
    console.log(
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  '),
    );
  }
  console.log(
    '\nclicks = simulated (realised) reward; expected CTR and regret use the true click probabilities.',
  );
}

const { config, json } = parseFlags();
const report = runSimulation(config);
if (json) console.log(JSON.stringify(report, null, 2));
else printTable(report);
