import { createEpsilonGreedyPolicy } from './epsilonGreedy.js';
import type { BetaParams } from './posteriors.js';
import {
  createPosteriorStore,
  defaultExploitPrior,
  defaultExplorationPrior,
  defaultPriorStrength,
  resolvePriorOptions,
} from './posteriors.js';
import { createRng } from './random.js';
import type { SimEnvironment, SimUser } from './simEnvironment.js';
import { createOraclePolicy, createSimEnvironment } from './simEnvironment.js';
import { createThompsonPolicy } from './thompson.js';
import type { FeedPolicy, FeedSource } from './types.js';

export interface SimulationConfig {
  readonly seed: number;
  readonly users: number;
  /** Impression budget per policy; pages of `slots`, the last one cut to fit. */
  readonly impressions: number;
  readonly epsilon: number;
  readonly slots: number;
  readonly categoryCap: number;
  /** Thompson sees a fresh posterior snapshot every this many pages, like the gateway's periodic refresh. */
  readonly refreshEvery: number;
  readonly categories: number;
  /** Thompson's priors, as the gateway's (see PriorOptions). */
  readonly exploitPrior: BetaParams;
  readonly explorationPrior: BetaParams;
  readonly priorStrength: number;
}

export const DEFAULT_SIMULATION: SimulationConfig = Object.freeze({
  seed: 7,
  users: 500,
  impressions: 50_000,
  epsilon: 0.1,
  slots: 10,
  categoryCap: 3,
  refreshEvery: 10,
  categories: 8,
  exploitPrior: defaultExploitPrior,
  explorationPrior: defaultExplorationPrior,
  priorStrength: defaultPriorStrength,
});

export interface PolicyResult {
  readonly policy: string;
  readonly impressions: number;
  /** Simulated clicks (the realised cumulative reward). */
  readonly clicks: number;
  readonly ctr: number;
  /** Sum of the true CTRs of the items shown: the reward without click noise. */
  readonly expectedClicks: number;
  /** The oracle's expectedClicks − this policy's: pseudo-regret, in expected clicks (no click noise). */
  readonly regret: number;
  /** Share of impressions that came from an exploration pool (not SIMILAR). */
  readonly explorationShare: number;
}

export interface SimulationReport {
  readonly config: SimulationConfig;
  readonly oracle: string;
  readonly results: readonly PolicyResult[];
}

export const ORACLE_DEFINITION =
  "a policy that knows every viewer's true CTR per (source, category) arm and fills each slot with the " +
  'eligible arm of highest CTR, run on the same viewers, pools, slots and category cap; ' +
  'regret = oracle expected clicks - policy expected clicks';

export function validateSimulationConfig(config: SimulationConfig): void {
  const positiveInt = (name: keyof SimulationConfig, value: number, max = 10_000_000) => {
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
  };
  if (!Number.isInteger(config.seed) || config.seed < 0)
    throw new RangeError(`seed must be a non-negative integer, got ${config.seed}`);
  positiveInt('users', config.users, 10_000);
  positiveInt('impressions', config.impressions);
  positiveInt('slots', config.slots, 100);
  positiveInt('categoryCap', config.categoryCap, 100);
  positiveInt('refreshEvery', config.refreshEvery, 1_000_000);
  positiveInt('categories', config.categories, 32);
  if (config.categories < 2) throw new RangeError(`categories must be at least 2, got ${config.categories}`);
  if (!(config.epsilon >= 0 && config.epsilon <= 1))
    throw new RangeError(`epsilon must be between 0 and 1, got ${config.epsilon}`);
  resolvePriorOptions(config);
}

interface Learner {
  policy(user: SimUser): FeedPolicy;
  /** Called after every page with its impressions and simulated clicks. */
  observe(page: number, shown: readonly { source: FeedSource; categoryId: number; clicked: boolean }[]): void;
}

type RunResult = Omit<PolicyResult, 'regret'>;

function runPolicy(env: SimEnvironment, config: SimulationConfig, learner: Learner): RunResult {
  // Every policy meets the same viewers in the same order and the same per-page random streams (common
  // random numbers), so the difference between them is the policy, not luck.
  const schedule = createRng(`sim-schedule:${config.seed}`);
  const seen = env.users.map(() => new Set<number>());
  let impressions = 0;
  let clicks = 0;
  let expected = 0;
  let explored = 0;
  let name = '';
  for (let page = 0; impressions < config.impressions; page++) {
    const userIndex = Math.floor(schedule.next() * env.users.length);
    const user = env.users[userIndex];
    const userSeen = seen[userIndex];
    if (!user || !userSeen) throw new Error('schedule picked a missing user');
    const slots = Math.min(config.slots, config.impressions - impressions);
    const pools = env.pools(user, userSeen, createRng(`sim-pools:${config.seed}:${page}`));
    const policy = learner.policy(user);
    name = policy.name;
    const decisions = policy.fillPage(
      { pools, slots, categoryCap: config.categoryCap },
      createRng(`sim-policy:${config.seed}:${page}`),
    );
    if (decisions.length === 0) throw new Error(`page ${page}: the policy filled no slot`);
    const rewards = createRng(`sim-rewards:${config.seed}:${page}`);
    const shown = decisions.map(({ item, source }) => {
      const p = env.ctr(user, source, item.categoryId);
      const clicked = rewards.next() < p;
      expected += p;
      clicks += clicked ? 1 : 0;
      explored += source === 'SIMILAR' ? 0 : 1;
      userSeen.add(item.id);
      return { source, categoryId: item.categoryId, clicked };
    });
    impressions += decisions.length;
    learner.observe(page, shown);
  }
  return {
    policy: name,
    impressions,
    clicks,
    ctr: clicks / impressions,
    expectedClicks: expected,
    explorationShare: explored / impressions,
  };
}

/** Runs ε-greedy and Thompson through the real policies on one synthetic environment. Pure and deterministic. */
export function runSimulation(overrides: Partial<SimulationConfig> = {}): SimulationReport {
  const config: SimulationConfig = { ...DEFAULT_SIMULATION, ...overrides };
  validateSimulationConfig(config);
  const env = createSimEnvironment(config.seed, config.users, config.categories);

  const greedy = createEpsilonGreedyPolicy({ epsilon: config.epsilon });
  const epsilonResult = runPolicy(env, config, { policy: () => greedy, observe: () => undefined });

  const store = createPosteriorStore([], {
    exploitPrior: config.exploitPrior,
    explorationPrior: config.explorationPrior,
    priorStrength: config.priorStrength,
  });
  let thompson = createThompsonPolicy({ posteriors: store.snapshot() });
  const thompsonResult = runPolicy(env, config, {
    policy: () => thompson,
    observe: (page, shown) => {
      for (const { source, categoryId, clicked } of shown)
        store.update({ source, categoryId }, 1, clicked ? 1 : 0);
      if ((page + 1) % config.refreshEvery === 0)
        thompson = createThompsonPolicy({ posteriors: store.snapshot() });
    },
  });

  const oracleResult = runPolicy(env, config, {
    policy: (user) => createOraclePolicy(env, user),
    observe: () => undefined,
  });
  const withRegret = (run: RunResult): PolicyResult => ({
    ...run,
    regret: oracleResult.expectedClicks - run.expectedClicks,
  });
  return {
    config,
    oracle: ORACLE_DEFINITION,
    results: [withRegret(epsilonResult), withRegret(thompsonResult), withRegret(oracleResult)],
  };
}
