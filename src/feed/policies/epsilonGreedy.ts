import { PageState } from './page.js';
import type { Rng } from './random.js';
import { uniformInt } from './random.js';
import type { Candidate, ExplorationSource, FeedPolicy, PageInput, SlotDecision } from './types.js';
import { EXPLOIT_SOURCE, EXPLORATION_SOURCES } from './types.js';

export interface EpsilonGreedyOptions {
  /** Probability of an exploration slot while both the exploit ranking and some exploration pool have items. */
  readonly epsilon: number;
}

/**
 * ε-greedy over pools. An arm is a source; within the chosen pool the policy always takes that pool's next
 * eligible item (unused, under the category cap), so the item follows from the arm and the arm's
 * probability is also the probability of the logged (source, item) pair.
 *
 * Per slot, with k = number of exploration pools that still have an eligible item:
 * - SIMILAR has an item and k > 0: SIMILAR with probability 1 − ε, propensity 1 − ε; otherwise one of the
 *   k pools uniformly, propensity ε / k.
 * - SIMILAR has an item and k = 0: SIMILAR, propensity 1.
 * - SIMILAR is exhausted and k > 0: one of the k pools uniformly, propensity 1 / k.
 *
 * The propensity is the probability of the arm (source), not of the item: when pools overlap and SIMILAR's
 * next item is also the next item of m exploration pools, that item had probability 1 − ε + ε·m/k of being
 * shown. Logging the arm's probability keeps (source, propensity) a consistent pair for off-policy
 * estimators, which re-weight arms; an item-level estimator would have to add up the overlapping arms.
 */
export function createEpsilonGreedyPolicy(options: EpsilonGreedyOptions): FeedPolicy {
  const { epsilon } = options;
  if (!(epsilon >= 0 && epsilon <= 1)) throw new RangeError(`epsilon must be in [0, 1], got ${epsilon}`);

  return {
    name: 'epsilon-greedy',
    fillPage(input: PageInput, rng: Rng): SlotDecision[] {
      const page = new PageState(input);
      while (!page.full) {
        const relaxed = page.capRelaxed();
        const exploit = page.nextFrom(EXPLOIT_SOURCE, relaxed);
        const open: { source: ExplorationSource; item: Candidate }[] = [];
        for (const source of EXPLORATION_SOURCES) {
          const item = page.nextFrom(source, relaxed);
          if (item) open.push({ source, item });
        }
        if (exploit && open.length === 0) {
          page.place(exploit, EXPLOIT_SOURCE, 1);
          continue;
        }
        if (open.length === 0) break;
        // One uniform decides explore-or-not, so ε = 0 never explores (next() ≥ 0) and ε = 1 always does.
        const explore = !exploit || rng.next() < epsilon;
        if (!explore && exploit) {
          page.place(exploit, EXPLOIT_SOURCE, 1 - epsilon);
          continue;
        }
        const pick = open[uniformInt(rng, open.length)];
        if (!pick) break;
        page.place(pick.item, pick.source, (exploit ? epsilon : 1) / open.length);
      }
      return page.decisions;
    },
  };
}
