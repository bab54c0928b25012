/**
 * Issue #16's split: per user, positives ordered by time, the last `testFraction` of them held out for
 * testing and the rest kept for training; users with fewer than `minPositives` are not scored (their
 * positives all stay in train, as they would in the system). A repeated (user, item) counts once, at its
 * first time. Ties in time keep the input order, so the split is deterministic.
 */

export interface TimedInteractions {
  readonly userIndex: Uint32Array;
  readonly itemIndex: Uint32Array;
  /** Milliseconds (any monotone unit works). */
  readonly time: Float64Array;
  readonly nUsers: number;
  readonly nItems: number;
}

export interface SplitOptions {
  readonly testFraction: number;
  readonly minPositives: number;
}

export const DEFAULT_SPLIT: SplitOptions = { testFraction: 0.2, minPositives: 5 };

export interface TimeSplit {
  readonly train: TimedInteractions;
  /** Per user: the held-out items, or null when the user is not scored. */
  readonly test: ReadonlyArray<ReadonlySet<number> | null>;
  /** Per user: the training items (for exclusion and for the user's profile). */
  readonly trainItems: ReadonlyArray<Uint32Array>;
  readonly scoredUsers: number;
}

export function splitByTime(data: TimedInteractions, options: SplitOptions = DEFAULT_SPLIT): TimeSplit {
  const { testFraction, minPositives } = options;
  if (!(testFraction > 0 && testFraction < 1))
    throw new RangeError(`testFraction must be between 0 and 1, got ${testFraction}`);
  if (!Number.isInteger(minPositives) || minPositives < 2)
    throw new RangeError(`minPositives must be a whole number >= 2, got ${minPositives}`);
  const { userIndex, itemIndex, time, nUsers } = data;
  const n = userIndex.length;

  // Group entries by user (counting sort, O(n + nUsers)).
  const start = new Uint32Array(nUsers + 1);
  for (let e = 0; e < n; e += 1) start[userIndex[e]! + 1]! += 1;
  for (let u = 0; u < nUsers; u += 1) start[u + 1]! += start[u]!;
  const cursor = start.slice(0, nUsers);
  const byUser = new Uint32Array(n);
  for (let e = 0; e < n; e += 1) byUser[cursor[userIndex[e]!]!++] = e;

  const test: (ReadonlySet<number> | null)[] = [];
  const trainItems: Uint32Array[] = [];
  const trainEntries: number[] = [];
  let scoredUsers = 0;
  const seen = new Set<number>();
  for (let u = 0; u < nUsers; u += 1) {
    const entries = Array.from(byUser.subarray(start[u], start[u + 1])).sort(
      (a, b) => time[a]! - time[b]! || a - b,
    );
    seen.clear();
    const unique = entries.filter((e) => (seen.has(itemIndex[e]!) ? false : (seen.add(itemIndex[e]!), true)));
    const scored = unique.length >= minPositives;
    const held = scored ? Math.max(1, Math.round(unique.length * testFraction)) : 0;
    const cut = unique.length - held;
    for (let i = 0; i < cut; i += 1) trainEntries.push(unique[i]!);
    trainItems.push(Uint32Array.from(unique.slice(0, cut), (e) => itemIndex[e]!));
    test.push(scored ? new Set(unique.slice(cut).map((e) => itemIndex[e]!)) : null);
    if (scored) scoredUsers += 1;
  }
  const train: TimedInteractions = {
    userIndex: Uint32Array.from(trainEntries, (e) => userIndex[e]!),
    itemIndex: Uint32Array.from(trainEntries, (e) => itemIndex[e]!),
    time: Float64Array.from(trainEntries, (e) => time[e]!),
    nUsers,
    nItems: data.nItems,
  };
  return { train, test, trainItems, scoredUsers };
}
