import { describe, expect, it } from 'vitest';
import { ABLATION, parseVariants } from './variants.js';

describe('parseVariants', () => {
  it('takes ablation rows by name and variants of one’s own as name:KEY=V+KEY=V', () => {
    expect(parseVariants('interests-only, eps0:FEED_EPSILON=0+FEED_RANKER=fixed')).toEqual([
      ABLATION[0],
      { name: 'eps0', env: { FEED_EPSILON: '0', FEED_RANKER: 'fixed' } },
    ]);
  });

  it('refuses unknown names, malformed assignments and repeated names', () => {
    expect(() => parseVariants('nope')).toThrow(/unknown variant "nope"/);
    expect(() => parseVariants('x:lower=1')).toThrow(/not KEY=VALUE/);
    expect(() => parseVariants('x:FEED_EPSILON')).toThrow(/not KEY=VALUE/);
    expect(() => parseVariants('default,default')).toThrow(/appears twice/);
    expect(() => parseVariants('default,')).toThrow(/empty entry/);
  });

  it('refuses a variable Lodestar does not read, and names the one a typo meant', () => {
    expect(() => parseVariants('x:FEED_EPSLON=0')).toThrow(
      /FEED_EPSLON in "x:FEED_EPSLON=0" is not a Lodestar setting \(did you mean FEED_EPSILON\?\)/,
    );
    expect(() => parseVariants('x:FEED_EPSILON=0+NOT_A_VAR=1')).toThrow(
      /NOT_A_VAR .* is not a Lodestar setting;/,
    );
    expect(() => parseVariants('x:NOT_A_VAR=1')).toThrow(
      /NOT_A_VAR in "x:NOT_A_VAR=1" is not a Lodestar setting; docs/,
    );
    // The ablation's own rows set only what Lodestar reads.
    for (const row of ABLATION)
      for (const [key, value] of Object.entries(row.env))
        expect(parseVariants(`t:${key}=${value}`)).toEqual([{ name: 't', env: { [key]: value } }]);
  });

  it('the ablation adds one stage per row and ends with exploration on', () => {
    expect(ABLATION.map((v) => v.name)).toEqual([
      'interests-only',
      '+behaviour',
      '+coengagement',
      '+ranking',
      '+learned',
      'default',
    ]);
    expect(ABLATION.at(-1)!.env.FEED_EPSILON).toBe('0.1');
    expect(ABLATION.slice(0, -1).every((v) => v.env.FEED_EPSILON === '0')).toBe(true);
  });
});
