import { describe, expect, it } from 'vitest';
import { armForBucket, experimentArmsSchema, hashBucket, type ExperimentArm } from './experimentArms.js';

const arm = (name: string, weight: number): ExperimentArm => ({
  name,
  weight,
  policy: 'epsilon_greedy',
  params: {},
});

describe('hashBucket', () => {
  it('gives a viewer the same position every time, in [0, 1)', () => {
    const a = hashBucket('feed-policy', 'user-1');
    expect(hashBucket('feed-policy', 'user-1')).toBe(a);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(1);
  });

  it('places one viewer independently in different experiments', () => {
    const users = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const same = users.filter((u) => hashBucket('exp-a', u) < 0.5 === hashBucket('exp-b', u) < 0.5).length;
    expect(same / users.length).toBeGreaterThan(0.45);
    expect(same / users.length).toBeLessThan(0.55);
  });
});

describe('armForBucket', () => {
  it('splits viewers by weight', () => {
    const arms = [arm('control', 75), arm('treatment', 25)];
    const counts = { control: 0, treatment: 0 };
    for (let i = 0; i < 10_000; i++) counts[armForBucket(arms, hashBucket('x', `u${i}`)).name as 'control']++;
    expect(counts.control / 10_000).toBeGreaterThan(0.72);
    expect(counts.control / 10_000).toBeLessThan(0.78);
  });

  it('never picks an arm of weight 0, even at the edges', () => {
    const arms = [arm('off', 0), arm('on', 1), arm('drained', 0)];
    for (const bucket of [0, 0.5, 0.999999999]) expect(armForBucket(arms, bucket).name).toBe('on');
  });
});

describe('experimentArmsSchema', () => {
  it('accepts arms with policies and an optional epsilon', () => {
    const parsed = experimentArmsSchema.parse([
      { name: 'control', weight: 50, policy: 'epsilon_greedy', params: { epsilon: 0.1 } },
      { name: 'thompson', weight: 50, policy: 'thompson' },
    ]);
    expect(parsed[1]?.params).toEqual({});
  });

  it.each([
    [[], 'at least one arm'],
    [[arm('a', 1), arm('a', 1)], 'unique'],
    [[arm('a', 0)], 'weight above 0'],
    [[{ ...arm('a', 1), policy: 'random' }], 'policy'],
    [[{ ...arm('a', 1), params: { epsilon: 2 } }], 'epsilon must be 0..1'],
    [[arm('Bad Name', 1)], 'arm names'],
  ])('refuses %j with a message naming the problem', (arms, message) => {
    const result = experimentArmsSchema.safeParse(arms);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(message);
  });
});
