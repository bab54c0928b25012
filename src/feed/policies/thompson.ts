import { PageState } from './page.js';
import type { BetaParams, PosteriorSnapshot } from './posteriors.js';
import { armKey, posteriorFor } from './posteriors.js';
import type { Rng } from './random.js';
import { beta, forkRng } from './random.js';
import type { Candidate, FeedPolicy, FeedSource, PageInput, SlotDecision } from './types.js';
import { EXPLOIT_SOURCE, EXPLORATION_SOURCES, FEED_SOURCES } from './types.js';

export interface ThompsonOptions {
  /** A snapshot from createPosteriorStore / posteriorsFromCounts; arms it lacks get their source's prior. */
  readonly posteriors: PosteriorSnapshot;
  /**
   * Monte Carlo draws per page for the propensities. Default 200: standard error ≤ 0.035, at a cost of
   * arms × draws Beta samples per page (≈1.5 ms for 26 arms).
   */
  readonly propensityDraws?: number;
  /** Floor for logged propensities, so inverse-propensity weights stay bounded (default 1e-3). */
  readonly minPropensity?: number;
}

interface Option {
  readonly arm: number;
  readonly key: string;
  readonly source: FeedSource;
  readonly item: Candidate;
}

/**
 * Thompson sampling over arms = SIMILAR (one arm, keeping the personalised order) and source:category for
 * the exploration pools (see armKey). Each slot draws once from the Beta posterior of every arm that still
 * has an eligible item and takes the highest draw's next item. An arm with no data draws from its source's
 * prior (see PriorOptions), so a fresh deployment gives SIMILAR most slots rather than 1 in 26.
 *
 * Propensity = P(this arm has the highest draw among the arms available at this slot), estimated once per
 * slot from `propensityDraws` joint draws made at the start of the page with a child Rng forked from the
 * page's Rng (reproducible, and sharing draws across slots keeps the cost per page, not per slot), then
 * clamped to [minPropensity, 1]. With a single available arm it is exactly 1.
 */
export function createThompsonPolicy(options: ThompsonOptions): FeedPolicy {
  const { posteriors, propensityDraws = 200, minPropensity = 1e-3 } = options;
  if (!Number.isInteger(propensityDraws) || propensityDraws < 1)
    throw new RangeError(`propensityDraws must be a positive integer, got ${propensityDraws}`);
  if (!(minPropensity > 0 && minPropensity <= 1))
    throw new RangeError(`minPropensity must be in (0, 1], got ${minPropensity}`);

  return {
    name: 'thompson',
    fillPage(input: PageInput, rng: Rng): SlotDecision[] {
      const page = new PageState(input);
      // Forked first, unconditionally, so the main stream's draws do not depend on the page's shape.
      const mcRng = forkRng(rng);

      const armIndex = new Map<string, number>();
      const params: BetaParams[] = [];
      for (const source of FEED_SOURCES) {
        for (const item of page.pool(source)) {
          const key = armKey(source, item.categoryId);
          if (armIndex.has(key)) continue;
          armIndex.set(key, params.length);
          params.push(posteriorFor(posteriors, key));
        }
      }
      const arms = params.length;
      const draws = new Float64Array(propensityDraws * arms);
      for (let d = 0; d < propensityDraws; d++) {
        params.forEach((p, a) => {
          draws[d * arms + a] = beta(mcRng, p.alpha, p.beta);
        });
      }
      const option = (source: FeedSource, categoryId: number, item: Candidate): Option => {
        const key = armKey(source, categoryId);
        return { arm: armIndex.get(key) ?? -1, key, source, item };
      };

      const winShare = (chosen: number, available: readonly Option[]): number => {
        let wins = 0;
        for (let d = 0; d < propensityDraws; d++) {
          const row = d * arms;
          const mine = draws[row + chosen] ?? 0;
          if (available.every((o) => o.arm === chosen || (draws[row + o.arm] ?? 0) <= mine)) wins++;
        }
        return Math.min(1, Math.max(minPropensity, wins / propensityDraws));
      };

      while (!page.full) {
        const relaxed = page.capRelaxed();
        const available: Option[] = [];
        const exploit = page.nextFrom(EXPLOIT_SOURCE, relaxed);
        if (exploit) available.push(option(EXPLOIT_SOURCE, exploit.categoryId, exploit));
        for (const source of EXPLORATION_SOURCES) {
          for (const [categoryId, item] of page.nextPerCategory(source, relaxed)) {
            available.push(option(source, categoryId, item));
          }
        }
        if (available.length === 0) break;

        let best: Option | undefined;
        let bestDraw = -1;
        for (const candidate of available) {
          const p = params[candidate.arm] ?? posteriorFor(posteriors, candidate.key);
          const draw = beta(rng, p.alpha, p.beta);
          if (draw > bestDraw) {
            best = candidate;
            bestDraw = draw;
          }
        }
        if (!best) break;
        const propensity = available.length === 1 ? 1 : winShare(best.arm, available);
        page.place(best.item, best.source, propensity);
      }
      return page.decisions;
    },
  };
}
