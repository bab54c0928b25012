import type { FeedSource } from './types.js';
import { EXPLOIT_SOURCE } from './types.js';

export interface BetaParams {
  readonly alpha: number;
  readonly beta: number;
}

/**
 * Beta(1, 1): uniform on the click rate, the prior the posteriors start from. It treats a new arm as a
 * 50% click rate, so a new arm takes many slots until the next refresh brings data; a prior with a
 * realistic mean (e.g. Beta(1, 19)) tempers that, at the cost of slower discovery of a great arm.
 */
export const UNIFORM_PRIOR: BetaParams = Object.freeze({ alpha: 1, beta: 1 });

/** What a learning event knows about an impression: the slot's source and the item's category. */
export interface ArmEvent {
  readonly source: FeedSource;
  readonly categoryId: number;
}

export interface ArmCounts extends ArmEvent {
  readonly impressions: number;
  /** Clicks (or any reward in [0, 1] per impression), at most `impressions`. */
  readonly rewards: number;
}

/**
 * Thompson's arm for an impression. SIMILAR is one arm whatever the category: its order is the
 * personalised ranking, and splitting it by category would let population-wide category rates override
 * the per-viewer order. Exploration pools are not personalised, so there the category is the lever worth
 * learning ("RECENT items of category 5 get clicked"): their arms are source:category. In the default
 * simulation (npm run sim:bandit) this beats source-only arms: regret 202 vs 296 expected clicks (ε-greedy 325).
 */
export function armKey(source: FeedSource, categoryId: number): string {
  return source === EXPLOIT_SOURCE ? source : `${source}:${categoryId}`;
}

/** A frozen, JSON-friendly view of the posteriors: safe to share across requests or cache in Redis. */
export interface PosteriorSnapshot {
  /** The posterior of an arm with no data yet. */
  readonly prior: BetaParams;
  readonly arms: Readonly<Record<string, BetaParams>>;
}

export function posteriorFor(snapshot: PosteriorSnapshot, key: string): BetaParams {
  return Object.hasOwn(snapshot.arms, key) ? (snapshot.arms[key] ?? snapshot.prior) : snapshot.prior;
}

function checkCounts(impressions: number, rewards: number): void {
  if (!(Number.isFinite(impressions) && impressions >= 0))
    throw new RangeError(`impressions must be a finite number >= 0, got ${impressions}`);
  if (!(Number.isFinite(rewards) && rewards >= 0 && rewards <= impressions))
    throw new RangeError(`rewards must be between 0 and impressions (${impressions}), got ${rewards}`);
}

function checkPrior(prior: BetaParams): void {
  if (!(prior.alpha > 0 && prior.beta > 0 && Number.isFinite(prior.alpha + prior.beta)))
    throw new RangeError(`prior must have alpha, beta > 0, got ${JSON.stringify(prior)}`);
}

interface Tally {
  impressions: number;
  rewards: number;
}

function toSnapshot(tallies: ReadonlyMap<string, Tally>, prior: BetaParams): PosteriorSnapshot {
  const arms: Record<string, BetaParams> = {};
  for (const [key, { impressions, rewards }] of [...tallies].sort(([a], [b]) => (a < b ? -1 : 1))) {
    arms[key] = Object.freeze({ alpha: prior.alpha + rewards, beta: prior.beta + impressions - rewards });
  }
  return Object.freeze({ prior, arms: Object.freeze(arms) });
}

function tally(tallies: Map<string, Tally>, arm: ArmEvent, impressions: number, rewards: number): void {
  checkCounts(impressions, rewards);
  const key = armKey(arm.source, arm.categoryId);
  const current = tallies.get(key) ?? { impressions: 0, rewards: 0 };
  tallies.set(key, { impressions: current.impressions + impressions, rewards: current.rewards + rewards });
}

/**
 * Posteriors from aggregated counts (e.g. a GROUP BY source, category over learning events): α = prior.α +
 * rewards, β = prior.β + impressions − rewards. Rows that map to the same arm (SIMILAR) are summed.
 */
export function posteriorsFromCounts(
  rows: Iterable<ArmCounts>,
  prior: BetaParams = UNIFORM_PRIOR,
): PosteriorSnapshot {
  checkPrior(prior);
  const tallies = new Map<string, Tally>();
  for (const row of rows) tally(tallies, row, row.impressions, row.rewards);
  return toSnapshot(tallies, prior);
}

export interface PosteriorStore {
  update(arm: ArmEvent, impressions: number, rewards: number): void;
  /** An immutable copy: requests keep using it while the store keeps counting. */
  snapshot(): PosteriorSnapshot;
}

/**
 * Accumulates counts between refreshes. The gateway feeds it from learning events and publishes a
 * snapshot periodically, so policies never see half-applied updates and requests need no lock.
 */
export function createPosteriorStore(
  initial: Iterable<ArmCounts> = [],
  prior: BetaParams = UNIFORM_PRIOR,
): PosteriorStore {
  checkPrior(prior);
  const tallies = new Map<string, Tally>();
  for (const row of initial) tally(tallies, row, row.impressions, row.rewards);
  return {
    update: (arm, impressions, rewards) => tally(tallies, arm, impressions, rewards),
    snapshot: () => toSnapshot(tallies, prior),
  };
}
