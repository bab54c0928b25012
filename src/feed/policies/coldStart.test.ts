import { describe, expect, it } from 'vitest';
import { posteriorsFromCounts, UNIFORM_PRIOR } from './posteriors.js';
import { createRng } from './random.js';
import { createThompsonPolicy } from './thompson.js';
import type { Candidate, CandidatePools, PageInput } from './types.js';

function pool(firstId: number, categories: number): Candidate[] {
  return Array.from({ length: 60 }, (_, i) => ({
    id: firstId + i,
    categoryId: 1 + (i % categories),
    score: -i,
  }));
}

/** A fresh deployment's page: SIMILAR plus 9 + 8 + 8 = 25 source:category exploration arms. */
const pools: CandidatePools = {
  SIMILAR: pool(1, 9),
  POPULAR: pool(1001, 9),
  RECENT: pool(2001, 8),
  EXPLORE: pool(3001, 8),
};

/** Share of `pages` one-slot pages that SIMILAR wins, and the mean propensity logged for those wins. */
function similarShare(snapshot = posteriorsFromCounts([]), pages = 5000) {
  // 50 propensity draws, not 200: the test averages thousands of them, and stays fast.
  const policy = createThompsonPolicy({ posteriors: snapshot, propensityDraws: 50 });
  const input: PageInput = { pools, slots: 1, categoryCap: 3 };
  let wins = 0;
  let logged = 0;
  for (let p = 0; p < pages; p++) {
    const [d] = policy.fillPage(input, createRng(`cold-start:${p}`));
    if (d?.source === 'SIMILAR') {
      wins++;
      logged += d.propensity;
    }
  }
  return { share: wins / pages, meanPropensity: logged / wins };
}

describe('Thompson at cold start (no data at all)', () => {
  it('gives SIMILAR 80–90% of slots against 25 exploration arms, like ε-greedy at ε 0.1–0.2', () => {
    const { share, meanPropensity } = similarShare();
    // ∫ f_S · F_E^25 = 0.850 for the default priors; 5,000 slots put the count within ±0.015 of it.
    expect(share).toBeGreaterThan(0.82);
    expect(share).toBeLessThan(0.88);
    // The logged propensity estimates the same probability.
    expect(meanPropensity).toBeGreaterThan(0.78);
    expect(meanPropensity).toBeLessThan(0.92);
  });

  it('gave SIMILAR about 1 slot in 26 with Beta(1, 1) for every arm', () => {
    const uniform = posteriorsFromCounts([], {
      exploitPrior: UNIFORM_PRIOR,
      explorationPrior: UNIFORM_PRIOR,
    });
    expect(similarShare(uniform, 2000).share).toBeLessThan(0.07);
  });
});
