import { describe, expect, it } from 'vitest';
import { defaultExplorationPrior, defaultExploitPrior, defaultPriorStrength } from './posteriors.js';
import { createRng } from './random.js';
import { createOraclePolicy, createSimEnvironment } from './simEnvironment.js';
import { runSimulation } from './simulate.js';

describe('runSimulation', () => {
  it('shows Thompson with less regret than ε-greedy at the same budget (small run, fixed seed)', () => {
    // A smaller world (4 categories: 13 Thompson arms, not 25) so the learning pays off within a small
    // budget; `npm run sim:bandit` shows the same ordering on the default 8-category world.
    const report = runSimulation({ seed: 7, users: 100, impressions: 8_000, categories: 4 });
    const [greedy, thompson, oracle] = report.results;
    if (!greedy || !thompson || !oracle) throw new Error('missing results');
    expect(report.results.map((r) => r.policy)).toEqual(['epsilon-greedy', 'thompson', 'oracle']);
    for (const r of report.results) expect(r.impressions).toBe(8_000);
    expect(oracle.regret).toBe(0);
    expect(greedy.regret).toBeGreaterThan(0);
    expect(thompson.regret).toBeGreaterThan(0);
    expect(thompson.regret).toBeLessThan(greedy.regret);
    expect(thompson.expectedClicks).toBeGreaterThan(greedy.expectedClicks);
  });

  it('is deterministic and honours the budget exactly, even mid-page', () => {
    const small = { seed: 3, users: 5, impressions: 305 };
    const report = runSimulation(small);
    expect(runSimulation(small)).toEqual(report);
    expect(report.results.every((r) => r.impressions === 305)).toBe(true);
    expect(report.config).toMatchObject(small);
  });

  it('refuses nonsense settings', () => {
    expect(() => runSimulation({ users: 0 })).toThrow(/users/);
    expect(() => runSimulation({ epsilon: 2 })).toThrow(/epsilon/);
    expect(() => runSimulation({ impressions: 1.5 })).toThrow(/impressions/);
    expect(() => runSimulation({ seed: -1 })).toThrow(/seed/);
    expect(() => runSimulation({ priorStrength: 0 })).toThrow(/^priorStrength /);
    expect(() => runSimulation({ exploitPrior: { alpha: -1, beta: 1 } })).toThrow(/^exploitPrior /);
    expect(() => runSimulation({ explorationPrior: { alpha: 1, beta: Number.NaN } })).toThrow(
      /^explorationPrior /,
    );
  });

  it('runs Thompson with the gateway’s default priors unless told otherwise, and reports them', () => {
    const report = runSimulation({ seed: 3, users: 5, impressions: 100 });
    expect(report.config).toMatchObject({
      exploitPrior: defaultExploitPrior,
      explorationPrior: defaultExplorationPrior,
      priorStrength: defaultPriorStrength,
    });
    const uniform = runSimulation({
      seed: 3,
      users: 5,
      impressions: 100,
      exploitPrior: { alpha: 1, beta: 1 },
      explorationPrior: { alpha: 1, beta: 1 },
    });
    // The first 100 impressions are one refresh of cold start: Beta(1, 1) explores almost all of them.
    const explored = (r: typeof report) => r.results.find((x) => x.policy === 'thompson')?.explorationShare;
    expect(explored(uniform)).toBeGreaterThan(0.8);
    expect(explored(report)).toBeLessThan(0.3);
  });
});

describe('the simulated world', () => {
  it('has the secret arm beat SIMILAR for trend seekers only', () => {
    const env = createSimEnvironment(11, 80);
    const { source, categoryId } = env.secretArm;
    const seekers = env.users.filter((u) => u.trendSeeker);
    const others = env.users.filter((u) => !u.trendSeeker);
    expect(seekers.length).toBeGreaterThan(10);
    const bestSimilar = (u: (typeof env.users)[number]) =>
      Math.max(...Array.from({ length: env.categories }, (_, c) => env.ctr(u, 'SIMILAR', c + 1)));
    for (const u of seekers) expect(env.ctr(u, source, categoryId)).toBeGreaterThan(bestSimilar(u));
    for (const u of others) expect(env.ctr(u, source, categoryId)).toBeLessThan(bestSimilar(u));
  });

  it('has an oracle that fills pages with the highest true CTRs under the cap', () => {
    const env = createSimEnvironment(5, 3);
    const user = env.users[0];
    if (!user) throw new Error('no user');
    const pools = env.pools(user, new Set(), createRng('pools'));
    const page = createOraclePolicy(env, user).fillPage({ pools, slots: 10, categoryCap: 3 }, createRng(1));
    expect(page).toHaveLength(10);
    const values = page.map((d) => env.ctr(user, d.source, d.item.categoryId));
    expect([...values].sort((a, b) => b - a)).toEqual(values);
    const perCategory = new Map<number, number>();
    for (const d of page) perCategory.set(d.item.categoryId, (perCategory.get(d.item.categoryId) ?? 0) + 1);
    expect(Math.max(...perCategory.values())).toBeLessThanOrEqual(3);
  });
});
