import { describe, expect, it } from 'vitest';
import { DEFAULT_RANKER_WEIGHTS, RANKING_FEATURES, fixedRankerWeights } from './ranking.js';
import { trainRanker, type TrainingRow } from './rankerTraining.js';
import { createSfc32 } from '../random/createSfc32.js';

/** A seeded generator (src/random), so every run draws the same data. */
function rng(seed: number): () => number {
  const next = createSfc32(seed, 0x9e3779b9, 0x243f6a88, 0xb7e15162);
  return () => next() / 4294967296;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const D = RANKING_FEATURES.length;
const T0 = Date.parse('2026-11-01T00:00:00Z');

describe('trainRanker', () => {
  it('recovers known weights from synthetic logistic data, and beats the defaults on its holdout', () => {
    const next = rng(1);
    const truth = [1.5, -1, 0.8, 0, 0.5, -0.7, 0.3, 0, -0.4, 0.6];
    const bias = -1.2;
    const rows: TrainingRow[] = [];
    for (let i = 0; i < 40_000; i += 1) {
      const features = Array.from({ length: D }, (_, j) =>
        j >= 6 ? (next() < 0.5 ? 1 : 0) : next() * 2 - 0.5,
      );
      const z = bias + features.reduce((s, v, j) => s + v * truth[j]!, 0);
      rows.push({
        features,
        label: next() < sigmoid(z) ? 1 : 0,
        propensity: 1,
        createdAt: new Date(T0 + i * 1000),
      });
    }
    const result = trainRanker(rows, { l2: 1e-6 });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.model.bias).toBeCloseTo(bias, 0);
    RANKING_FEATURES.forEach((name, j) => {
      expect(Math.abs(result.model.weights[name] - truth[j]!)).toBeLessThan(0.12);
    });
    expect(result.samples).toBe(40_000);
    expect(result.metrics.trainSamples).toBe(32_000);
    expect(result.metrics.holdoutSamples).toBe(8000);
    expect(result.metrics.learned.logLoss).toBeLessThan(result.metrics.defaults.logLoss);
    expect(result.metrics.learned.auc!).toBeGreaterThan(result.metrics.defaults.auc!);
    expect(result.metrics.learned.auc!).toBeGreaterThan(0.7);
  });

  it('IPS weighting removes a logging bias: a skewed log fits like the unskewed population', () => {
    // The truth is not logistic in `similarity` (flat below 0.5, steep above), so where the log samples
    // decides the fitted slope. The logging policy shows low-similarity listings with propensity 0.1.
    const next = rng(2);
    const population: TrainingRow[] = [];
    const logged: TrainingRow[] = [];
    for (let i = 0; i < 60_000; i += 1) {
      const s = next();
      const features = Array.from({ length: D }, (_, j) => (j === 0 ? s : next()));
      const p = s < 0.5 ? 0.3 : 0.3 + 1.2 * (s - 0.5);
      const row: TrainingRow = {
        features,
        label: next() < p ? 1 : 0,
        propensity: 1,
        createdAt: new Date(T0 + i * 1000),
      };
      population.push(row);
      const propensity = s < 0.5 ? 0.1 : 1;
      if (next() < propensity) logged.push({ ...row, propensity });
    }
    const slope = (rows: TrainingRow[]) => {
      const r = trainRanker(rows, { l2: 1e-6 });
      if (!r.ok) throw new Error(r.reason);
      return r.model.weights.similarity;
    };
    const target = slope(population);
    const withIps = slope(logged);
    const naive = slope(logged.map((r) => ({ ...r, propensity: 1 })));
    expect(Math.abs(withIps - target)).toBeLessThan(0.25);
    expect(Math.abs(naive - target)).toBeGreaterThan(3 * Math.abs(withIps - target));
  });

  it('keeps the serving weights where the log says nothing: labels unrelated to the features', () => {
    const next = rng(3);
    const rows: TrainingRow[] = Array.from({ length: 3000 }, (_, i) => ({
      features: Array.from({ length: D }, () => next()),
      label: next() < 0.1 ? 1 : 0,
      propensity: 0.9,
      createdAt: new Date(T0 + i * 1000),
    }));
    const result = trainRanker(rows);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    // The penalty pulls towards DEFAULT_RANKER_WEIGHTS (the weights that wrote the log), not towards 0.
    for (const name of RANKING_FEATURES) {
      expect(Math.abs(result.model.weights[name] - DEFAULT_RANKER_WEIGHTS.weights[name]), name).toBeLessThan(
        0.5,
      );
    }
    expect(DEFAULT_RANKER_WEIGHTS.weights.similarity).toBeGreaterThan(1);
    // With another serving model (FEED_RANKER_WEIGHTS), the pull and the holdout comparison follow it.
    const prior = fixedRankerWeights({ similarity: -2, popularity: 3 });
    const served = trainRanker(rows, { prior });
    expect(served.ok).toBe(true);
    if (!served.ok) return;
    expect(Math.abs(served.model.weights.similarity - -2)).toBeLessThan(0.5);
    expect(Math.abs(served.model.weights.popularity - 3)).toBeLessThan(0.5);
    expect(served.metrics.defaults).not.toEqual(result.metrics.defaults);
  });

  it('gives no model for degenerate data', () => {
    const row = (label: 0 | 1, i: number, features = RANKING_FEATURES.map(() => i % 3)): TrainingRow => ({
      features,
      label,
      propensity: 0.5,
      createdAt: new Date(T0 + i),
    });
    const allNegative = Array.from({ length: 500 }, (_, i) => row(0, i));
    expect(trainRanker(allNegative)).toMatchObject({ ok: false, reason: 'only one label in the data' });
    expect(trainRanker([])).toMatchObject({ ok: false, samples: 0 });
    // NaN / wrong-length vectors are dropped: what is left has one label only.
    const poisoned = [
      ...allNegative,
      row(
        1,
        900,
        RANKING_FEATURES.map(() => Number.NaN),
      ),
      row(1, 901, [1, 2]),
    ];
    expect(trainRanker(poisoned)).toMatchObject({ ok: false, samples: 500, positives: 0 });
    // Positives only in the holdout part: nothing to fit on.
    const late = [...allNegative, ...Array.from({ length: 50 }, (_, i) => row(1, 10_000 + i))];
    expect(trainRanker(late)).toMatchObject({ ok: false, reason: 'only one label in the training part' });
  });

  it('scores the defaults as a logistic model on the same holdout', () => {
    const rows: TrainingRow[] = Array.from({ length: 1000 }, (_, i) => ({
      features: RANKING_FEATURES.map((_, j) => (j === 0 ? (i % 10) / 10 : 0)),
      label: i % 10 >= 5 ? 1 : 0,
      propensity: 1,
      createdAt: new Date(T0 + i),
    }));
    const r = trainRanker(rows);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    // Only similarity varies: both rank perfectly, but the defaults' sigmoid(2s) is badly calibrated.
    expect(r.metrics.defaults.auc).toBe(1);
    expect(r.metrics.learned.auc).toBe(1);
    const holdoutLoss = r.metrics.defaults.logLoss;
    const expected =
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].reduce((s, k) => {
        const p = sigmoid(DEFAULT_RANKER_WEIGHTS.weights.similarity * (k / 10));
        return s - (k >= 5 ? Math.log(p) : Math.log(1 - p));
      }, 0) / 10;
    expect(holdoutLoss).toBeCloseTo(expected, 6);
    expect(r.metrics.learned.logLoss).toBeLessThan(holdoutLoss);
  });
  it('a position term takes out position bias: what the logging ranking put low is not learned as worse', () => {
    // Pages of 10 ordered by the logging ranking, which sorts by similarity alone; people look at place p
    // with chance 1 / (1 + p) and like what they look at with chance sigmoid(truth). The truth weighs
    // similarity and popularity alike, so a fit that ignores the place credits similarity with the
    // attention the top places got.
    const next = rng(5);
    const S = RANKING_FEATURES.indexOf('similarity');
    const P = RANKING_FEATURES.indexOf('popularity');
    const rows: TrainingRow[] = [];
    const item = () => {
      const features = new Array<number>(D).fill(0);
      features[S] = next();
      features[P] = next();
      return features;
    };
    for (let page = 0; page < 12_000; page += 1) {
      // The ranked items by similarity; a slot explores (a random listing at that place) with chance 0.2.
      const ranked = Array.from({ length: 10 }, item).sort((a, b) => b[S]! - a[S]!);
      let r = 0;
      for (let place = 0; place < 10; place += 1) {
        const features = next() < 0.2 ? item() : ranked[r++]!;
        const liked = next() < 1 / (1 + place) && next() < sigmoid(-3 + 2 * features[S]! + 2 * features[P]!);
        rows.push({
          features,
          label: liked ? 1 : 0,
          propensity: 1,
          createdAt: new Date(T0 + page * 1000 + place),
          position: place,
        });
      }
    }
    const zero = fixedRankerWeights(Object.fromEntries(RANKING_FEATURES.map((n) => [n, 0])));
    const blind = trainRanker(rows, { l2: 1e-6, prior: zero, positionTerm: false });
    const aware = trainRanker(rows, {
      l2: 1e-6,
      prior: zero,
      ...(blind.ok ? { serving: blind.model } : {}),
    });
    expect(blind.ok && aware.ok).toBe(true);
    if (!blind.ok || !aware.ok) return;
    const ratio = (r: typeof aware) => r.model.weights.similarity / r.model.weights.popularity;
    // Blind to the place, similarity looks far stronger than popularity; with the term they come out alike.
    expect(ratio(blind)).toBeGreaterThan(2);
    expect(Math.abs(ratio(aware) - 1)).toBeLessThan(0.25);
    expect(aware.metrics.positionWeight).toBeLessThan(-0.5);
    expect(blind.metrics.positionWeight).toBeUndefined();
    // Judged on pairs at the same position, the position-aware weights order the holdout better than the
    // blind ones.
    expect(aware.metrics.learned.auc!).toBeGreaterThan(aware.metrics.serving!.auc!);
    // Served without the term: the bias is refitted so that the mean prediction is the rate of likes.
    const rate = rows.reduce((n, r) => n + r.label, 0) / rows.length;
    const meanPredicted =
      rows.reduce(
        (sum, r) =>
          sum +
          sigmoid(
            aware.model.bias +
              r.features.reduce((z, v, j) => z + v * aware.model.weights[RANKING_FEATURES[j]!], 0),
          ),
        0,
      ) / rows.length;
    expect(Math.abs(meanPredicted - rate)).toBeLessThan(0.002);
  });

  it('fits no position term when a row has no position', () => {
    const next = rng(6);
    const rows: TrainingRow[] = Array.from({ length: 4000 }, (_, i) => {
      const features = Array.from({ length: D }, () => next());
      return {
        features,
        label: next() < sigmoid(-1 + 2 * features[0]!) ? 1 : 0,
        propensity: 1,
        createdAt: new Date(T0 + i * 1000),
        ...(i === 7 ? {} : { position: i % 10 }),
      };
    });
    const result = trainRanker(rows, { l2: 1e-6 });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.metrics.positionWeight).toBeUndefined();
  });
  it('the position term is not pulled: a strong pull towards zero weights shrinks the features, not it', () => {
    const next = rng(7);
    const S = RANKING_FEATURES.indexOf('similarity');
    const rows: TrainingRow[] = Array.from({ length: 20_000 }, (_, i) => {
      const features = new Array<number>(D).fill(0);
      features[S] = next();
      const position = i % 10;
      const liked = next() < 1 / (1 + position) && next() < sigmoid(-2 + 2 * features[S]);
      return { features, label: liked ? 1 : 0, propensity: 1, createdAt: new Date(T0 + i), position };
    });
    const zero = fixedRankerWeights(Object.fromEntries(RANKING_FEATURES.map((n) => [n, 0])));
    const pulled = trainRanker(rows, { l2: 1, prior: zero });
    expect(pulled.ok).toBe(true);
    if (!pulled.ok) return;
    expect(Math.abs(pulled.model.weights.similarity)).toBeLessThan(0.1);
    expect(pulled.metrics.positionWeight).toBeLessThan(-0.5);
  });

  it('a bias far out of the usual range is still found (the served weights are pulled to large ones)', () => {
    const next = rng(8);
    const S = RANKING_FEATURES.indexOf('similarity');
    const rows: TrainingRow[] = Array.from({ length: 5000 }, (_, i) => {
      const features = new Array<number>(D).fill(0);
      features[S] = 0.5 + next() / 2;
      return {
        features,
        label: next() < 0.085 ? 1 : 0,
        propensity: 1,
        createdAt: new Date(T0 + i),
        position: i % 10,
      };
    });
    const huge = fixedRankerWeights({ similarity: 200 });
    const result = trainRanker(rows, { l2: 1000, prior: huge });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.model.weights.similarity).toBeGreaterThan(150);
    const rate = rows.reduce((n, r) => n + r.label, 0) / rows.length;
    const mean =
      rows.reduce(
        (sum, r) => sum + sigmoid(result.model.bias + result.model.weights.similarity * r.features[S]!),
        0,
      ) / rows.length;
    expect(Math.abs(mean - rate)).toBeLessThan(0.01);
  });

  it('a position term that runs away (every like at the top) is dropped and the fit made without it', () => {
    const next = rng(9);
    const rows: TrainingRow[] = Array.from({ length: 5000 }, (_, i) => {
      const features = Array.from({ length: D }, () => next());
      const position = i % 10;
      const liked = position === 0 && next() < sigmoid(-1 + 2 * features[0]!);
      return { features, label: liked ? 1 : 0, propensity: 1, createdAt: new Date(T0 + i), position };
    });
    const result = trainRanker(rows, { l2: 1e-6 });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.metrics.positionWeight).toBeUndefined();
    expect(result.metrics.iterations).toBeLessThan(50);
  });
});
