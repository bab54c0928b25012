import { envSchema } from '../config/config.js';
import { EvaluationError } from './scratchDatabase.js';

/** One feed configuration to evaluate: a name and the environment overrides that make it. */
export interface Variant {
  name: string;
  env: Readonly<Record<string, string>>;
}

/**
 * Issue #16's ablation table, each row adding one stage to the one before. `learned` equals `ranking`
 * until a feedback log has trained a model (the scratch database has none). The last row is the
 * default configuration with exploration.
 */
export const ABLATION: readonly Variant[] = [
  {
    name: 'interests-only',
    env: {
      FEED_PROFILE_BEHAVIOUR: 'false',
      FEED_COENGAGEMENT_CANDIDATES: '0',
      FEED_RANKER: 'off',
      FEED_EPSILON: '0',
    },
  },
  {
    name: '+behaviour',
    env: {
      FEED_PROFILE_BEHAVIOUR: 'true',
      FEED_COENGAGEMENT_CANDIDATES: '0',
      FEED_RANKER: 'off',
      FEED_EPSILON: '0',
    },
  },
  {
    name: '+coengagement',
    env: {
      FEED_PROFILE_BEHAVIOUR: 'true',
      FEED_COENGAGEMENT_CANDIDATES: '50',
      FEED_RANKER: 'off',
      FEED_EPSILON: '0',
    },
  },
  {
    name: '+ranking',
    env: {
      FEED_PROFILE_BEHAVIOUR: 'true',
      FEED_COENGAGEMENT_CANDIDATES: '50',
      FEED_RANKER: 'fixed',
      FEED_EPSILON: '0',
    },
  },
  {
    name: '+learned',
    env: {
      FEED_PROFILE_BEHAVIOUR: 'true',
      FEED_COENGAGEMENT_CANDIDATES: '50',
      FEED_RANKER: 'learned',
      FEED_EPSILON: '0',
    },
  },
  {
    name: 'default',
    env: {
      FEED_PROFILE_BEHAVIOUR: 'true',
      FEED_COENGAGEMENT_CANDIDATES: '50',
      FEED_RANKER: 'learned',
      FEED_EPSILON: '0.1',
    },
  },
];

const KEY = /^[A-Z][A-Z0-9_]*$/;

/** The variables Lodestar reads (docs/configuration.md): a variant setting any other would change nothing. */
const SETTINGS: readonly string[] = Object.keys(envSchema.shape);

/** Edit distance of two short strings (for "did you mean"). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const next = [i];
    for (let j = 1; j <= b.length; j += 1)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

function unknownSetting(key: string, part: string): EvaluationError {
  let best: string | null = null;
  let bestDistance = 4;
  for (const name of SETTINGS) {
    const d = distance(key, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return new EvaluationError(
    `--variants: ${key} in "${part}" is not a Lodestar setting${best === null ? '' : ` (did you mean ${best}?)`}; ` +
      'docs/configuration.md lists them',
  );
}

/**
 * `--variants`: comma-separated, each an ablation row's name, or `name:KEY=V+KEY=V` for a variant of
 * one's own (e.g. `eps0:FEED_EPSILON=0`). Names must be unique.
 */
export function parseVariants(spec: string): Variant[] {
  const variants: Variant[] = [];
  for (const part of spec.split(',').map((s) => s.trim())) {
    if (part === '') throw new EvaluationError('--variants: an empty entry');
    const colon = part.indexOf(':');
    if (colon === -1) {
      const known = ABLATION.find((v) => v.name === part);
      if (!known)
        throw new EvaluationError(
          `--variants: unknown variant "${part}" (known: ${ABLATION.map((v) => v.name).join(', ')}; or name:KEY=V+KEY=V)`,
        );
      variants.push(known);
      continue;
    }
    const name = part.slice(0, colon);
    const env: Record<string, string> = {};
    for (const assignment of part.slice(colon + 1).split('+')) {
      const eq = assignment.indexOf('=');
      const key = assignment.slice(0, eq);
      if (eq < 1 || !KEY.test(key))
        throw new EvaluationError(`--variants: "${assignment}" in "${part}" is not KEY=VALUE`);
      if (!SETTINGS.includes(key)) throw unknownSetting(key, part);
      env[key] = assignment.slice(eq + 1);
    }
    if (name === '') throw new EvaluationError(`--variants: "${part}" has no name before the colon`);
    variants.push({ name, env });
  }
  const names = variants.map((v) => v.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new EvaluationError(`--variants: "${repeated}" appears twice`);
  return variants;
}
