/** What to generate. Same options (including seed and asOf) → byte-identical rows. */
export interface SeedOptions {
  users: number;
  listings: number;
  interests: number;
  categories: number;
  seed: number;
  /** Empty the seeded tables first (TRUNCATE ... RESTART IDENTITY CASCADE) instead of refusing. */
  reset?: boolean;
  /**
   * The "now" all generated timestamps are relative to. Fixed by default so reruns on another day
   * still produce identical rows; pass the real now for data that looks fresh to time windows.
   */
  asOf?: Date;
}

export const DEFAULT_AS_OF = new Date('2026-11-28T00:00:00.000Z');

export const DEFAULT_SEED_OPTIONS: Readonly<Required<Omit<SeedOptions, 'asOf' | 'reset'>>> = {
  users: 200,
  listings: 2000,
  interests: 120,
  categories: 12,
  seed: 42,
};

export interface NumericLimit {
  readonly min: number;
  readonly max: number;
}

export const SEED_LIMITS: Readonly<Record<keyof typeof DEFAULT_SEED_OPTIONS, NumericLimit>> = {
  users: { min: 1, max: 10_000_000 },
  listings: { min: 1, max: 10_000_000 },
  // Every user gets at least three interests.
  interests: { min: 3, max: 100_000 },
  categories: { min: 1, max: 1_000 },
  seed: { min: 0, max: 4_294_967_295 },
};

/**
 * Problems with a set of options, one human-readable sentence each; empty when valid. `nameOf`
 * lets the CLI say `--users` where the library says `users`.
 */
export function validateSeedOptions(
  options: SeedOptions,
  nameOf: (key: keyof typeof SEED_LIMITS) => string = (key) => key,
): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(SEED_LIMITS) as (keyof typeof SEED_LIMITS)[]) {
    const { min, max } = SEED_LIMITS[key];
    const value = options[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${nameOf(key)} must be a whole number from ${min} to ${max}, got ${String(value)}`);
    }
  }
  if (problems.length === 0 && options.interests < options.categories) {
    problems.push(
      `${nameOf('interests')} (${options.interests}) must be at least ${nameOf('categories')} ` +
        `(${options.categories}) ` +
        'so every category has an interest for its listings to cluster around',
    );
  }
  if (options.asOf !== undefined && Number.isNaN(options.asOf.getTime())) {
    problems.push('asOf must be a valid date');
  }
  return problems;
}
