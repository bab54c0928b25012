/**
 * A synthetic positive-interaction history for offline evaluation, calibrated to the shape issue #16
 * reports for its real dataset (about 1k users, 1.7k items, 7 months, a median of ~40 positives per
 * user, long-tailed item popularity, items in 1-6 of 19 categories). Choices come from a latent-taste
 * model separate from anything Lodestar scores with, so an evaluation on it is not circular:
 *
 * - categories are directions in a latent space; an item mixes its categories' directions with an
 *   item-specific taste of its own, so there is structure beyond categories;
 * - a user likes 1-4 categories plus a personal taste, and drifts towards a second taste over time;
 * - each positive is drawn from softmax(sharpness * cos(taste, item) + log popularity), popularity
 *   Zipf-like over a random item order; a share of draws is noise (popularity alone);
 * - positives per user are log-normal around the median, spread over a random active window;
 * - optionally (`sessions` > 0) likes come in runs: that share of a user's likes is drawn near the
 *   user's previous like (softmax(sharpness * cos(previous, item) + log popularity)) rather than from
 *   the user's taste, as people browse from one thing to similar ones (a rating session, a shopping
 *   trip). With `sessions` 0 (the default) the draws are those of the model without runs.
 * - optionally (`tasteModes` > 0) a user's interests are tastes of their own: that share of the
 *   taste-driven likes comes from one interest (its category plus a personal part, chosen in
 *   proportion to the interest's weight) rather than from the blend, so a person who likes both
 *   westerns and musicals likes westerns and musicals, not what lies between them. With 0 (the
 *   default) the draws are those of the model without modes.
 * - `categorySignal` scales the categories' part of items' and users' vectors: 1 (the default) makes
 *   categories as strong as the item's own taste; below 1 they say less about what a user likes, as
 *   broad real genres do (everyone likes some drama), so declared interests carry less.
 *
 * Deterministic for a seed (sfc32 streams; Math.exp/Math.log are used, so bit-identity across engines
 * is not promised, only on one machine).
 */
import { seededRandom, type SeededRandom } from './seededRandom.js';
import type { TimedInteractions } from './timeSplit.js';

/** The knobs of the choice model, as `npm run eval` and `npm run eval:embeddings` expose them. */
export type SyntheticModel = Pick<
  SyntheticOptions,
  'sharpness' | 'popularityExponent' | 'noise' | 'sessions' | 'categorySignal' | 'tasteModes'
>;

export interface SyntheticOptions {
  readonly seed: number;
  readonly users: number;
  readonly items: number;
  readonly categories: number;
  readonly latentDimensions: number;
  readonly months: number;
  readonly medianPositives: number;
  /** How strongly taste beats popularity in a choice (softmax temperature on cosine). */
  readonly sharpness: number;
  /** Zipf exponent of item popularity. */
  readonly popularityExponent: number;
  /** Share of draws that ignore taste. */
  readonly noise: number;
  /** Share of likes (after the first) drawn near the user's previous like instead of from the taste. */
  readonly sessions: number;
  /** Weight of the categories' directions in item and user vectors (1: as strong as the item's own taste). */
  readonly categorySignal: number;
  /**
   * Share of a user's taste-driven likes drawn from one of their interests alone (a taste of its own:
   * the interest's category and a personal part) rather than from the blend of all of them. Users of
   * one interest keep the blend; with `sessions`, only likes a run did not draw.
   */
  readonly tasteModes: number;
}

export const DEFAULT_SYNTHETIC: SyntheticOptions = {
  seed: 7,
  users: 1000,
  items: 1700,
  categories: 19,
  latentDimensions: 24,
  months: 7,
  medianPositives: 40,
  sharpness: 8,
  popularityExponent: 0.7,
  noise: 0.15,
  sessions: 0,
  categorySignal: 1,
  tasteModes: 0,
};

export interface SyntheticDataset extends TimedInteractions {
  /** Per item, its categories (1-6). */
  readonly itemCategories: ReadonlyArray<readonly number[]>;
}

const DAY_MS = 86_400_000;
const START_MS = Date.UTC(2026, 0, 1);
/** P(an item is in 1, 2, ... 6 categories). */
const CATEGORY_COUNT_WEIGHTS = [0.45, 0.25, 0.14, 0.08, 0.05, 0.03];

function unit(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i += 1) v[i]! *= inv;
  return v;
}

function gaussianVector(rng: SeededRandom, d: number, scale = 1): Float64Array {
  const v = new Float64Array(d);
  for (let i = 0; i < d; i += 1) v[i] = rng.gaussian() * scale;
  return v;
}

/** Index drawn from cumulative weights (binary search). */
function drawFrom(cumulative: Float64Array, rng: SeededRandom): number {
  const target = rng.uniform() * cumulative[cumulative.length - 1]!;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function cumulativeOf(weights: ArrayLike<number>): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i += 1) out[i] = sum += weights[i]!;
  return out;
}

export function syntheticInteractions(options: Partial<SyntheticOptions> = {}): SyntheticDataset {
  const o = { ...DEFAULT_SYNTHETIC, ...options };
  const d = o.latentDimensions;
  const catalogue = seededRandom(o.seed, 1);
  const people = seededRandom(o.seed, 2);
  const choices = seededRandom(o.seed, 3);

  // Categories: directions, with Zipf-ish sizes so some categories are much larger than others.
  const centroids = Array.from({ length: o.categories }, () => unit(gaussianVector(catalogue, d)));
  const categoryCumulative = cumulativeOf(Array.from({ length: o.categories }, (_, k) => 1 / (k + 2)));
  const countCumulative = cumulativeOf(CATEGORY_COUNT_WEIGHTS);

  const itemCategories: number[][] = [];
  const itemVectors: Float64Array[] = [];
  for (let j = 0; j < o.items; j += 1) {
    const count = drawFrom(countCumulative, catalogue) + 1;
    const cats = new Set<number>();
    while (cats.size < count) cats.add(drawFrom(categoryCumulative, catalogue));
    const sorted = [...cats].sort((a, b) => a - b);
    itemCategories.push(sorted);
    // The first category dominates; the item's own taste is as strong as its categories together.
    const v = gaussianVector(catalogue, d, 1 / Math.sqrt(d));
    sorted.forEach((k, rank) => {
      const w = (rank === 0 ? 1 : 0.5) * o.categorySignal;
      for (let i = 0; i < d; i += 1) v[i]! += w * centroids[k]![i]!;
    });
    itemVectors.push(unit(v));
  }
  // Popularity: Zipf over a random order of the items.
  const order = Array.from({ length: o.items }, (_, j) => j);
  for (let j = o.items - 1; j > 0; j -= 1) {
    const k = catalogue.below(j + 1);
    [order[j], order[k]] = [order[k]!, order[j]!];
  }
  const logPopularity = new Float64Array(o.items);
  order.forEach((item, rank) => (logPopularity[item] = -o.popularityExponent * Math.log(rank + 1)));
  const popularityCumulative = cumulativeOf(Array.from(logPopularity, (x) => Math.exp(x)));

  const spanMs = o.months * 30.4 * DAY_MS;
  const users: number[] = [];
  const items: number[] = [];
  const times: number[] = [];
  const segments = 4;
  const weights = new Float64Array(o.items);
  /** Cumulative choice weights around `direction`: softmax(sharpness · cos(direction, item) + log popularity). */
  const choiceCumulative = (direction: Float64Array): Float64Array => {
    let max = -Infinity;
    for (let j = 0; j < o.items; j += 1) {
      let dot = 0;
      const v = itemVectors[j]!;
      for (let c = 0; c < d; c += 1) dot += direction[c]! * v[c]!;
      weights[j] = o.sharpness * dot + logPopularity[j]!;
      if (weights[j]! > max) max = weights[j]!;
    }
    for (let j = 0; j < o.items; j += 1) weights[j] = Math.exp(weights[j]! - max);
    return cumulativeOf(weights);
  };
  // Runs draw from a stream of their own, so with sessions 0 the other draws are unchanged.
  const runs = seededRandom(o.seed, 4);
  // So do the interests' own tastes, for the same reason.
  const modes = seededRandom(o.seed, 5);
  for (let u = 0; u < o.users; u += 1) {
    const interestCount = 1 + people.below(4);
    const taste = gaussianVector(people, d, 0.8 / Math.sqrt(d));
    const interestTastes: Float64Array[] = [];
    const interestWeights: number[] = [];
    for (let i = 0; i < interestCount; i += 1) {
      const k = drawFrom(categoryCumulative, people);
      const weight = 0.5 + people.uniform();
      const w = weight * o.categorySignal;
      for (let c = 0; c < d; c += 1) taste[c]! += w * centroids[k]![c]!;
      if (o.tasteModes > 0) {
        const own = gaussianVector(modes, d, 0.8 / Math.sqrt(d));
        for (let c = 0; c < d; c += 1) own[c]! += w * centroids[k]![c]!;
        interestTastes.push(unit(own));
        interestWeights.push(weight);
      }
    }
    unit(taste);
    // A user of one interest keeps the one taste; the interests' own tastes do not drift.
    const modeCumulative = interestTastes.length > 1 ? cumulativeOf(interestWeights) : undefined;
    const modeChoices = modeCumulative ? interestTastes.map(choiceCumulative) : [];
    const drifted = unit(taste.map((x) => x + people.gaussian() * (0.5 / Math.sqrt(d))));
    const positives = Math.max(
      2,
      Math.min(o.items >> 1, Math.round(o.medianPositives * Math.exp(0.8 * people.gaussian()))),
    );
    const windowStart = people.uniform() * 0.5 * spanMs;
    const windowEnd = windowStart + (0.3 + 0.7 * people.uniform()) * (spanMs - windowStart);
    const when = Array.from(
      { length: positives },
      () => windowStart + people.uniform() * (windowEnd - windowStart),
    );
    when.sort((a, b) => a - b);

    const chosen = new Set<number>();
    let previous = -1;
    for (let s = 0; s < segments; s += 1) {
      const from = Math.floor((s * positives) / segments);
      const to = Math.floor(((s + 1) * positives) / segments);
      if (to <= from) continue;
      const t = (s + 0.5) / segments;
      const now = unit(taste.map((x, c) => (1 - t) * x + t * drifted[c]!));
      const tasteCumulative = choiceCumulative(now);
      for (let p = from; p < to; p += 1) {
        let source = choices.uniform() < o.noise ? popularityCumulative : tasteCumulative;
        if (o.sessions > 0 && previous >= 0 && source === tasteCumulative && runs.uniform() < o.sessions)
          source = choiceCumulative(itemVectors[previous]!);
        else if (modeCumulative && source === tasteCumulative && modes.uniform() < o.tasteModes)
          source = modeChoices[drawFrom(modeCumulative, modes)]!;
        let item = drawFrom(source, choices);
        for (let tries = 0; chosen.has(item) && tries < 50; tries += 1) item = drawFrom(source, choices);
        if (chosen.has(item)) continue;
        chosen.add(item);
        previous = item;
        users.push(u);
        items.push(item);
        times.push(Math.round(START_MS + when[p]!));
      }
    }
  }
  return {
    userIndex: Uint32Array.from(users),
    itemIndex: Uint32Array.from(items),
    time: Float64Array.from(times),
    nUsers: o.users,
    nItems: o.items,
    itemCategories,
  };
}

/** Each model knob's flag and accepted range (inclusive). */
const MODEL_FLAGS: ReadonlyArray<{ key: keyof SyntheticModel; flag: string; min: number; max: number }> = [
  { key: 'sharpness', flag: 'sharpness', min: 0, max: 100 },
  { key: 'popularityExponent', flag: 'popularity-exponent', min: 0, max: 3 },
  { key: 'noise', flag: 'noise', min: 0, max: 1 },
  { key: 'sessions', flag: 'sessions', min: 0, max: 1 },
  { key: 'categorySignal', flag: 'category-signal', min: 0, max: 4 },
  { key: 'tasteModes', flag: 'taste-modes', min: 0, max: 1 },
];

/** The command-line flags of the model knobs, for the eval commands' option tables. */
export const SYNTHETIC_MODEL_FLAGS = MODEL_FLAGS.map((m) => m.flag);

/** The model knobs as `util.parseArgs` options (each a string, parsed by parseSyntheticModel). */
export const SYNTHETIC_MODEL_OPTIONS: Readonly<Record<string, { type: 'string' }>> = Object.fromEntries(
  SYNTHETIC_MODEL_FLAGS.map((flag) => [flag, { type: 'string' as const }]),
);

/** The knobs given, as a report's dataset label shows them ("sharpness 12, noise 0.35"; '' for none). */
export function describeSyntheticModel(model: Partial<SyntheticModel> | undefined): string {
  return Object.entries(model ?? {})
    .map(([name, value]) => `${name} ${String(value)}`)
    .join(', ');
}

/**
 * The model knobs from the eval commands' flags (`--sharpness`, `--popularity-exponent`, `--noise`),
 * only those given. Throws a message naming the flag for a value that is not a number in its range.
 */
export function parseSyntheticModel(flags: Readonly<Record<string, unknown>>): Partial<SyntheticModel> {
  const model: { -readonly [K in keyof SyntheticModel]?: number } = {};
  for (const { key, flag, min, max } of MODEL_FLAGS) {
    const given = flags[flag];
    if (given === undefined) continue;
    const raw = typeof given === 'string' ? given : JSON.stringify(given);
    const value = typeof given === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!(value >= min && value <= max))
      throw new RangeError(`--${flag} must be a number from ${min} to ${max}, got "${raw}"`);
    model[key] = value;
  }
  return model;
}
