import { describe, expect, it } from 'vitest';
import { beta, createRng, forkRng, gamma, standardNormal, uniformInt } from './random.js';

const take = (seed: number | string, n: number) => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.next());
};

function moments(sample: readonly number[]): { mean: number; variance: number } {
  const mean = sample.reduce((s, x) => s + x, 0) / sample.length;
  const variance = sample.reduce((s, x) => s + (x - mean) ** 2, 0) / (sample.length - 1);
  return { mean, variance };
}

describe('createRng', () => {
  it('gives the same stream for the same seed, number or string', () => {
    expect(take(42, 50)).toEqual(take(42, 50));
    expect(take('req-1:page-2', 50)).toEqual(take('req-1:page-2', 50));
  });

  it('gives unrelated streams for nearby seeds, and a number differs from its string', () => {
    expect(take('req-1:page-1', 20)).not.toEqual(take('req-1:page-2', 20));
    expect(take(1, 20)).not.toEqual(take(2, 20));
    expect(take(1, 20)).not.toEqual(take('1', 20));
  });

  it('stays in [0, 1) and is roughly uniform', () => {
    const sample = take('uniform', 100_000);
    expect(Math.min(...sample)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...sample)).toBeLessThan(1);
    const { mean, variance } = moments(sample);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(variance).toBeCloseTo(1 / 12, 2);
    const buckets = new Array<number>(10).fill(0);
    for (const x of sample) buckets[Math.floor(x * 10)]! += 1;
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it('forks a reproducible child that does not replay the parent', () => {
    const a = createRng('parent');
    const b = createRng('parent');
    const childA = forkRng(a);
    const childB = forkRng(b);
    const fromChild = Array.from({ length: 10 }, () => childA.next());
    expect(fromChild).toEqual(Array.from({ length: 10 }, () => childB.next()));
    expect(Array.from({ length: 10 }, () => a.next())).not.toEqual(fromChild);
  });

  it('draws integers in range and refuses an empty range', () => {
    const rng = createRng(3);
    const seen = new Set(Array.from({ length: 1000 }, () => uniformInt(rng, 7)));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(() => uniformInt(rng, 0)).toThrow(RangeError);
  });
});

describe('samplers', () => {
  it('standard normal has mean 0 and variance 1', () => {
    const rng = createRng('normal');
    const { mean, variance } = moments(Array.from({ length: 50_000 }, () => standardNormal(rng)));
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
  });

  it.each([0.3, 1, 2.5, 40])('Gamma(%s) has mean and variance equal to its shape', (shape) => {
    const rng = createRng(`gamma:${shape}`);
    const { mean, variance } = moments(Array.from({ length: 50_000 }, () => gamma(rng, shape)));
    expect(Math.abs(mean - shape) / shape).toBeLessThan(0.03);
    expect(Math.abs(variance - shape) / shape).toBeLessThan(0.06);
  });

  it('refuses non-positive gamma shapes', () => {
    const rng = createRng(1);
    for (const shape of [0, -1, Number.NaN, Infinity]) expect(() => gamma(rng, shape)).toThrow(RangeError);
  });

  it.each([
    [1, 1],
    [0.5, 0.5],
    [2, 5],
    [30, 970],
    [400, 100],
  ])('Beta(%s, %s) has mean a/(a+b) and the right variance', (a, b) => {
    const rng = createRng(`beta:${a}:${b}`);
    const sample = Array.from({ length: 40_000 }, () => beta(rng, a, b));
    const { mean, variance } = moments(sample);
    const trueMean = a / (a + b);
    const trueVariance = (a * b) / ((a + b) ** 2 * (a + b + 1));
    expect(sample.every((x) => x >= 0 && x <= 1)).toBe(true);
    // Tolerance: 5 standard errors of the sample mean.
    expect(Math.abs(mean - trueMean)).toBeLessThan(5 * Math.sqrt(trueVariance / sample.length));
    expect(Math.abs(variance - trueVariance) / trueVariance).toBeLessThan(0.06);
  });
});
