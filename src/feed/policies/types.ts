import type { Rng } from './random.js';

/** Where a feed slot's item came from; logged with every impression for learning and off-policy evaluation. */
export type FeedSource = 'SIMILAR' | 'POPULAR' | 'RECENT' | 'EXPLORE';

export type ExplorationSource = Exclude<FeedSource, 'SIMILAR'>;

export const EXPLOIT_SOURCE = 'SIMILAR' satisfies FeedSource;

/** Fixed order, so "the i-th non-empty exploration pool" means the same thing on every run. */
export const EXPLORATION_SOURCES: readonly ExplorationSource[] = ['POPULAR', 'RECENT', 'EXPLORE'];

export const FEED_SOURCES: readonly FeedSource[] = [EXPLOIT_SOURCE, ...EXPLORATION_SOURCES];

export interface Candidate {
  readonly id: number;
  readonly categoryId: number;
  readonly score: number;
}

/** Each pool is ordered best first by whoever produced it; a missing pool is the same as an empty one. */
export type CandidatePools = Partial<Record<FeedSource, readonly Candidate[]>>;

export interface PageInput {
  readonly pools: CandidatePools;
  /** Slots to fill (positions 0..slots-1). Fewer come back only when every pool runs dry. */
  readonly slots: number;
  /** Most items of one category on the page; relaxed only when no remaining candidate fits under it. */
  readonly categoryCap: number;
  /**
   * Categories allowed more than `categoryCap` (each value an integer ≥ it): the viewer's own share of a
   * category (src/feed/categoryCaps.ts). Categories not in it have `categoryCap`.
   */
  readonly categoryCaps?: ReadonlyMap<number, number>;
  /** Item ids the viewer has already been shown (earlier pages); never placed again. */
  readonly exclude?: Iterable<number>;
}

export interface SlotDecision {
  readonly item: Candidate;
  readonly source: FeedSource;
  /** The place on the page it is shown at (the slot it was decided for, unless exploitOnTop moved it). */
  readonly position: number;
  /**
   * Probability, at the slot it was decided for and given the slots already filled, that the policy chose
   * this arm (see each policy for what an arm is). Always in (0, 1], so 1/propensity weights stay finite.
   */
  readonly propensity: number;
  /** The slot the policy decided it for, when exploitOnTop showed it elsewhere (`position`). */
  readonly decidedAt?: number;
}

export interface FeedPolicy {
  readonly name: string;
  /** Pure given its inputs: the same pools, cap and Rng state give the same page. */
  fillPage(input: PageInput, rng: Rng): SlotDecision[];
}
