import { describe, expect, it } from 'vitest';
import { buildSeedPlan } from './buildSeedPlan.js';
import type { SeedPlan } from './buildSeedPlan.js';
import { createRng } from './createRng.js';
import { sampleListing } from './generateListings.js';
import { DEFAULT_AS_OF } from './seedOptions.js';
import type { SeedOptions } from './seedOptions.js';
import { portableExp, TASTE_DIM } from './tasteModel.js';
import { DAY_MS } from './timeSpans.js';

const OPTIONS: SeedOptions = { users: 600, listings: 4000, interests: 120, categories: 12, seed: 11 };
const AS_OF = DEFAULT_AS_OF.getTime();
const plan = buildSeedPlan(OPTIONS, AS_OF);

/** Each user's likes in time order (the plan writes them so). */
function likesByUser(p: SeedPlan): number[][] {
  const out: number[][] = Array.from({ length: p.users.count }, () => []);
  p.likes.userIndex.forEach((user, row) => out[user]?.push(p.likes.listingIndex[row] ?? 0));
  return out;
}

/** Unit centroid of some listings' hidden tastes (zero vector when empty). */
function centroid(p: SeedPlan, listings: readonly number[]): Float64Array {
  const v = new Float64Array(TASTE_DIM);
  for (const listing of listings) {
    for (let i = 0; i < TASTE_DIM; i += 1)
      v[i] = (v[i] ?? 0) + (p.taste.listing[listing * TASTE_DIM + i] ?? 0);
  }
  const norm = Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
  return norm > 0 ? v.map((x) => x / norm) : v;
}

function cosine(a: Float64Array, b: Float64Array): number {
  return a.reduce((sum, x, i) => sum + x * (b[i] ?? 0), 0);
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, x) => sum + x, 0) / Math.max(1, values.length);
}

/** Odd and even positions: two halves of one user's likes with no order to them. */
function interleavedHalves(liked: readonly number[]): [number[], number[]] {
  return [liked.filter((_, i) => i % 2 === 0), liked.filter((_, i) => i % 2 === 1)];
}

describe('seeded engagement (latent-taste model)', () => {
  const byUser = likesByUser(plan);

  it('has long-tailed popularity: the top 1 % of listings hold over 8 % of likes, most listings few', () => {
    const counts = Array.from(plan.listings.likeCount).sort((a, b) => b - a);
    const total = counts.reduce((sum, n) => sum + n, 0);
    const top = counts.slice(0, OPTIONS.listings / 100).reduce((sum, n) => sum + n, 0);
    expect(top / total).toBeGreaterThan(0.08);
    const median = counts[Math.floor(counts.length / 2)] ?? 0;
    expect(median).toBeLessThanOrEqual(1);
    expect(counts[0]).toBeGreaterThan(10 * Math.max(1, median));
  });

  it('gives users with the same home categories measurably different likes (taste beyond categories)', () => {
    // Within-home-category likes only: categories alone would make these users interchangeable.
    const homeLikes = byUser.map((liked, user) => {
      const homes = [plan.users.homeCategories[2 * user], plan.users.homeCategories[2 * user + 1]];
      return liked.filter((listing) => homes.includes(plan.listings.categoryIndex[listing]));
    });
    const groups = new Map<string, number[]>();
    homeLikes.forEach((liked, user) => {
      if (liked.length < 8) return;
      const a = plan.users.homeCategories[2 * user] ?? 0;
      const b = plan.users.homeCategories[2 * user + 1] ?? 0;
      const key = `${Math.min(a, b)}:${Math.max(a, b)}`;
      groups.set(key, [...(groups.get(key) ?? []), user]);
    });
    const self: number[] = [];
    const peer: number[] = [];
    const popularityOnly: number[] = [];
    const rng = createRng(1, 'test-popularity-null');
    for (const members of groups.values()) {
      for (let m = 0; m + 1 < members.length; m += 1) {
        const [a1, a2] = interleavedHalves(homeLikes[members[m] ?? 0] ?? []);
        const [, b2] = interleavedHalves(homeLikes[members[m + 1] ?? 0] ?? []);
        self.push(cosine(centroid(plan, a1), centroid(plan, a2)));
        peer.push(cosine(centroid(plan, a1), centroid(plan, b2)));
        // The same number of likes per category, drawn by popularity alone.
        const [n1, n2] = [a1, a2].map((half) =>
          half.map((listing) =>
            sampleListing(
              plan.listings,
              plan.listings.byCategory[plan.listings.categoryIndex[listing] ?? 0],
              rng,
            ),
          ),
        );
        popularityOnly.push(cosine(centroid(plan, n1 ?? []), centroid(plan, n2 ?? [])));
      }
    }
    expect(self.length).toBeGreaterThan(20);
    expect(mean(self)).toBeGreaterThan(mean(peer) + 0.1);
    expect(mean(self)).toBeGreaterThan(mean(popularityOnly) + 0.03);
  });

  it("drifts: a user's early and late likes differ more than two interleaved halves", () => {
    const split: number[] = [];
    const interleaved: number[] = [];
    for (const liked of byUser) {
      if (liked.length < 16) continue;
      const half = liked.length >> 1;
      split.push(cosine(centroid(plan, liked.slice(0, half)), centroid(plan, liked.slice(half))));
      const [odd, even] = interleavedHalves(liked);
      interleaved.push(cosine(centroid(plan, odd), centroid(plan, even)));
    }
    expect(split.length).toBeGreaterThan(50);
    expect(mean(split)).toBeLessThan(mean(interleaved) - 0.02);
  });

  it('times every like, comment and signal after its user and listing existed, and not after asOf', () => {
    const check = (users: number[], listings: number[], times: number[], from = -Infinity): void => {
      times.forEach((at, row) => {
        const listing = listings[row] ?? 0;
        expect(at).toBeGreaterThanOrEqual(Math.max(from, plan.users.createdAt[users[row] ?? 0] ?? 0));
        if (listing >= 0) expect(at).toBeGreaterThanOrEqual(plan.listings.createdAt[listing] ?? 0);
        expect(at).toBeLessThanOrEqual(AS_OF);
      });
    };
    check(plan.likes.userIndex, plan.likes.listingIndex, plan.likes.createdAt);
    check(plan.comments.userIndex, plan.comments.listingIndex, plan.comments.createdAt);
    check(
      plan.intentSignals.userIndex,
      plan.intentSignals.listingIndex,
      plan.intentSignals.createdAt,
      AS_OF - 30 * DAY_MS,
    );
    // Likes of one user are written in time order: the drift test relies on it.
    plan.likes.createdAt.forEach((at, row) => {
      if (row > 0 && plan.likes.userIndex[row - 1] === plan.likes.userIndex[row]) {
        expect(at).toBeGreaterThanOrEqual(plan.likes.createdAt[row - 1] ?? 0);
      }
    });
  });

  it('precedes each recent like with a view of the same listing by the same user', () => {
    const views = new Map<string, number>();
    plan.intentSignals.kinds.forEach((kind, row) => {
      if (kind !== 'view') return;
      const key = `${plan.intentSignals.userIndex[row]}:${plan.intentSignals.listingIndex[row]}`;
      views.set(key, Math.min(views.get(key) ?? Infinity, plan.intentSignals.createdAt[row] ?? 0));
    });
    let recent = 0;
    plan.likes.createdAt.forEach((at, row) => {
      if (at < AS_OF - 30 * DAY_MS) return;
      recent += 1;
      const viewed = views.get(`${plan.likes.userIndex[row]}:${plan.likes.listingIndex[row]}`);
      expect(viewed).toBeLessThanOrEqual(at);
    });
    expect(recent).toBeGreaterThan(100);
  });

  it('gives the demo account a history and log-normal likes per user, with some lurkers', () => {
    const counts = byUser.map((liked) => liked.length);
    expect(counts[1]).toBeGreaterThanOrEqual(20);
    const sorted = [...counts].sort((a, b) => a - b);
    expect(sorted.filter((n) => n === 0).length / counts.length).toBeGreaterThan(0.05);
    expect(sorted[Math.floor(0.95 * sorted.length)]).toBeGreaterThan(3 * (sorted[sorted.length >> 1] ?? 0));
  });

  it('is deterministic: same options give the same engagement, another seed different', () => {
    const again = buildSeedPlan(OPTIONS, AS_OF);
    expect(again.likes).toEqual(plan.likes);
    expect(again.comments).toEqual(plan.comments);
    expect(again.intentSignals).toEqual(plan.intentSignals);
    const other = buildSeedPlan({ ...OPTIONS, seed: 12 }, AS_OF);
    expect(other.likes.listingIndex).not.toEqual(plan.likes.listingIndex);
  });
});

describe('portableExp', () => {
  it('matches Math.exp to 1e-12 relative and underflows to 0', () => {
    for (let x = -60; x <= 60; x += 0.173) {
      expect(Math.abs(portableExp(x) / Math.exp(x) - 1)).toBeLessThan(1e-12);
    }
    expect(portableExp(-800)).toBe(0);
    expect(() => portableExp(Number.NaN)).toThrow(/out of range/);
  });
});
