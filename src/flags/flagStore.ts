import type pg from 'pg';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { flagVariant, type FlagVariant } from './flagBucket.js';
import { listFlags, type Flag } from './flags.js';

export interface FlagValue {
  key: string;
  variant: FlagVariant;
  on: boolean;
}

/** The flags of one process: re-read every few seconds, and at once after a change made here. */
export interface FlagStore {
  /** The last flags read (empty until the first read). */
  current: () => readonly Flag[];
  refresh: () => Promise<void>;
  /** Every flag's value for a viewer (null = anonymous). */
  valuesFor: (userId: string | null) => FlagValue[];
  /**
   * The flags above 0% with the viewer's variant: what a signed-in viewer's request counts towards
   * (at 100% against the flag's baseline, below it also against the viewers without it).
   */
  exposuresFor: (userId: string | null) => { flag: string; variant: FlagVariant }[];
  close: () => void;
}

export async function createFlagStore(deps: {
  pool: Pick<pg.Pool, 'query'>;
  logger: Logger;
  refreshMs: number;
}): Promise<FlagStore> {
  let flags: readonly Flag[] = [];
  const refresh = async () => {
    try {
      flags = await listFlags(deps.pool);
    } catch (error) {
      // Keep serving the last known flags; a flag never flips because a read failed.
      deps.logger.warn({ err: coerceError(error) }, 'could not re-read feature flags; keeping the last ones');
    }
  };
  await refresh();
  const timer = setInterval(() => void refresh(), deps.refreshMs);
  timer.unref();
  return {
    current: () => flags,
    refresh,
    valuesFor: (userId) =>
      flags.map((f) => {
        const variant = flagVariant(f.key, f.rolloutPct, userId);
        return { key: f.key, variant, on: variant === 'on' };
      }),
    exposuresFor: (userId) =>
      userId === null
        ? []
        : flags
            .filter((f) => f.rolloutPct > 0)
            .map((f) => ({ flag: f.key, variant: flagVariant(f.key, f.rolloutPct, userId) })),
    close: () => clearInterval(timer),
  };
}
