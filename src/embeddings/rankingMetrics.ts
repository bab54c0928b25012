/**
 * Offline top-k metrics for recommendation lists (issue #16's protocol; the #16 harness reuses them).
 * A list is item indices, best first; `relevant` is the user's held-out positives. Each function is
 * linear in k; callers average per user and take coverage over all users' lists.
 */

export function precisionAtK(list: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  return hitsAtK(list, relevant, k) / k;
}

export function recallAtK(list: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  return relevant.size === 0 ? 0 : hitsAtK(list, relevant, k) / relevant.size;
}

/** 1 when any of the first k is relevant. */
export function hitRateAtK(list: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  return hitsAtK(list, relevant, k) > 0 ? 1 : 0;
}

/**
 * Binary-relevance NDCG: DCG = Σ 1/log2(position + 1) over relevant items in the first k, divided by
 * the DCG of a perfect list (min(k, |relevant|) hits at the top).
 */
export function ndcgAtK(list: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  const ideal = Math.min(k, relevant.size);
  if (ideal === 0) return 0;
  let dcg = 0;
  const n = Math.min(k, list.length);
  for (let i = 0; i < n; i += 1) if (relevant.has(list[i]!)) dcg += 1 / Math.log2(i + 2);
  let idcg = 0;
  for (let i = 0; i < ideal; i += 1) idcg += 1 / Math.log2(i + 2);
  return dcg / idcg;
}

function hitsAtK(list: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a whole number >= 1, got ${k}`);
  let hits = 0;
  const n = Math.min(k, list.length);
  for (let i = 0; i < n; i += 1) if (relevant.has(list[i]!)) hits += 1;
  return hits;
}

export interface MetricSummary {
  readonly users: number;
  readonly precision: number;
  readonly recall: number;
  readonly ndcg: number;
  readonly hitRate: number;
  /** Share of the catalogue that appears in at least one user's first k. */
  readonly coverage: number;
}

/** Per-user means of the metrics at k, and catalogue coverage, over the lists added. */
export class MetricAccumulator {
  private users = 0;
  private precision = 0;
  private recall = 0;
  private ndcg = 0;
  private hitRate = 0;
  private readonly shown: Uint8Array;
  private distinctShown = 0;

  constructor(
    private readonly k: number,
    private readonly catalogueSize: number,
  ) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a whole number >= 1, got ${k}`);
    this.shown = new Uint8Array(catalogueSize);
  }

  add(list: ArrayLike<number>, relevant: ReadonlySet<number>): void {
    this.users += 1;
    this.precision += precisionAtK(list, relevant, this.k);
    this.recall += recallAtK(list, relevant, this.k);
    this.ndcg += ndcgAtK(list, relevant, this.k);
    this.hitRate += hitRateAtK(list, relevant, this.k);
    const n = Math.min(this.k, list.length);
    for (let i = 0; i < n; i += 1) {
      const item = list[i]!;
      if (item < 0 || item >= this.catalogueSize || !Number.isInteger(item))
        throw new RangeError(`item ${item} is outside the catalogue of ${this.catalogueSize}`);
      if (this.shown[item] === 0) {
        this.shown[item] = 1;
        this.distinctShown += 1;
      }
    }
  }

  summary(): MetricSummary {
    const per = (sum: number): number => (this.users === 0 ? 0 : sum / this.users);
    return {
      users: this.users,
      precision: per(this.precision),
      recall: per(this.recall),
      ndcg: per(this.ndcg),
      hitRate: per(this.hitRate),
      coverage: this.catalogueSize === 0 ? 0 : this.distinctShown / this.catalogueSize,
    };
  }
}
