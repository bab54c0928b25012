/**
 * Popularity bias of recommendation lists against a catalogue: how popular (train likes) the
 * recommended items are compared with the catalogue. Pure; linear in the catalogue and the lists.
 *
 * - ratio: mean train-like count of the recommended items ÷ mean train-like count of the catalogue
 *   (1 = as popular as a random catalogue item; most-popular lists score far above 1);
 * - percentile: mean popularity percentile of the recommended items, each item's percentile being the
 *   share of the catalogue strictly less liked plus half the share equally liked (0.5 = median item).
 */
export interface PopularityBias {
  ratio: number;
  percentile: number;
}

export class PopularityBiasAccumulator {
  private readonly percentileOf: Float64Array;
  private readonly catalogueMean: number;
  private sumCount = 0;
  private sumPercentile = 0;
  private n = 0;

  /** `counts[i]`: train likes of catalogue item i. */
  constructor(private readonly counts: ArrayLike<number>) {
    const size = counts.length;
    let sum = 0;
    for (let i = 0; i < size; i += 1) sum += counts[i]!;
    this.catalogueMean = size === 0 ? 0 : sum / size;
    // Percentiles by sorting once: ties share the midpoint of their run.
    const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => counts[a]! - counts[b]!);
    this.percentileOf = new Float64Array(size);
    for (let start = 0; start < size;) {
      let end = start;
      while (end < size && counts[order[end]!] === counts[order[start]!]) end += 1;
      const p = (start + (end - start) / 2) / size;
      for (let j = start; j < end; j += 1) this.percentileOf[order[j]!] = p;
      start = end;
    }
  }

  /** One list of catalogue indices. */
  add(list: ArrayLike<number>): void {
    for (let i = 0; i < list.length; i += 1) {
      const item = list[i]!;
      if (!(item >= 0 && item < this.counts.length))
        throw new RangeError(`item ${item} is outside the catalogue of ${this.counts.length}`);
      this.sumCount += this.counts[item]!;
      this.sumPercentile += this.percentileOf[item]!;
      this.n += 1;
    }
  }

  summary(): PopularityBias {
    if (this.n === 0) return { ratio: 0, percentile: 0 };
    const meanCount = this.sumCount / this.n;
    return {
      ratio: this.catalogueMean === 0 ? 0 : meanCount / this.catalogueMean,
      percentile: this.sumPercentile / this.n,
    };
  }
}
