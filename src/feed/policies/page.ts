import type { Candidate, FeedSource, PageInput, SlotDecision } from './types.js';
import { EXPLOIT_SOURCE, FEED_SOURCES } from './types.js';

/** Most items of `categoryId` on a page: its own cap (`categoryCaps`) or the page's (`categoryCap`). */
export function capOfCategory(
  caps: Pick<PageInput, 'categoryCap' | 'categoryCaps'>,
  categoryId: number,
): number {
  return caps.categoryCaps?.get(categoryId) ?? caps.categoryCap;
}

/**
 * The bookkeeping every policy shares: which ids are taken, how many of each category the page holds,
 * and which candidates are still eligible. Policies only decide between the options it offers, so the
 * no-repeat and category-cap rules cannot drift between them.
 */
export class PageState {
  private readonly used: Set<number>;
  private readonly perCategory = new Map<number, number>();
  readonly decisions: SlotDecision[] = [];

  constructor(private readonly input: PageInput) {
    const { slots, categoryCap } = input;
    if (!Number.isInteger(slots) || slots < 0)
      throw new RangeError(`slots must be a non-negative integer, got ${slots}`);
    if (!(categoryCap >= 1) || (!Number.isInteger(categoryCap) && categoryCap !== Infinity))
      throw new RangeError(`categoryCap must be an integer >= 1 (or Infinity), got ${categoryCap}`);
    for (const [categoryId, cap] of input.categoryCaps ?? [])
      if (!(cap >= categoryCap) || (!Number.isInteger(cap) && cap !== Infinity))
        throw new RangeError(
          `categoryCaps of ${categoryId} must be an integer >= categoryCap (${categoryCap}), got ${cap}`,
        );
    this.used = new Set(input.exclude ?? []);
  }

  get full(): boolean {
    return this.decisions.length >= this.input.slots;
  }

  get position(): number {
    return this.decisions.length;
  }

  pool(source: FeedSource): readonly Candidate[] {
    return this.input.pools[source] ?? [];
  }

  private count(categoryId: number): number {
    return this.perCategory.get(categoryId) ?? 0;
  }

  private fits(item: Candidate): boolean {
    return (
      !this.used.has(item.id) && this.count(item.categoryId) < capOfCategory(this.input, item.categoryId)
    );
  }

  /**
   * The cap gives way only when no unused candidate in any pool fits under it: a short page is worse than
   * one category too many, but relaxing earlier would let one pool's category crowd the page.
   */
  capRelaxed(): boolean {
    return !FEED_SOURCES.some((source) => this.pool(source).some((item) => this.fits(item)));
  }

  /**
   * The item this pool would give now: its first eligible candidate (optionally of one category). When
   * the cap is relaxed, the unused candidate whose category is least represented, so the overflow spreads.
   */
  nextFrom(source: FeedSource, relaxed: boolean, categoryId?: number): Candidate | undefined {
    let best: Candidate | undefined;
    for (const item of this.pool(source)) {
      if (categoryId !== undefined && item.categoryId !== categoryId) continue;
      if (!relaxed) {
        if (this.fits(item)) return item;
        continue;
      }
      if (this.used.has(item.id)) continue;
      if (best === undefined || this.count(item.categoryId) < this.count(best.categoryId)) best = item;
    }
    return best;
  }

  /** For each category with an eligible item in the pool, that category's next item (one pass). */
  nextPerCategory(source: FeedSource, relaxed: boolean): Map<number, Candidate> {
    const next = new Map<number, Candidate>();
    for (const item of this.pool(source)) {
      if (next.has(item.categoryId) || this.used.has(item.id)) continue;
      if (relaxed || this.fits(item)) next.set(item.categoryId, item);
    }
    return next;
  }

  place(item: Candidate, source: FeedSource, propensity: number): void {
    if (this.used.has(item.id)) throw new Error(`item ${item.id} is already on the page or excluded`);
    if (!(propensity > 0 && propensity <= 1))
      throw new RangeError(`propensity must be in (0, 1]: ${propensity}`);
    this.used.add(item.id);
    this.perCategory.set(item.categoryId, this.count(item.categoryId) + 1);
    this.decisions.push({ item, source, position: this.decisions.length, propensity });
  }
}

/**
 * The page as shown: its exploit (SIMILAR) items come first until `topSlots` of them are placed, and
 * every exploration item the policy put before the last of those comes right after them, in its order
 * (`[E, S, E, S, S, S]` with 3 top slots shows as `[S, S, S, E, E, S]`). A page with fewer exploit items
 * than `topSlots` starts with all of them. Which items fill the page, and each one's source and
 * propensity (the probability of the arm at the decision that placed it), are the policy's; only places
 * move, so a page explores as often as the policy chose. Positions are renumbered, and a moved item keeps
 * the slot it was decided for in `decidedAt` (logged, so position effects can be told apart later).
 */
export function exploitOnTop(decisions: readonly SlotDecision[], topSlots: number): SlotDecision[] {
  if (!Number.isInteger(topSlots) || topSlots < 0)
    throw new RangeError(`topSlots must be a non-negative integer, got ${topSlots}`);
  const top: SlotDecision[] = [];
  const rest: SlotDecision[] = [];
  for (const d of decisions) (d.source === EXPLOIT_SOURCE && top.length < topSlots ? top : rest).push(d);
  if (top.length === 0 || rest.length === 0) return [...decisions];
  return [...top, ...rest].map((d, position) =>
    d.position === position ? d : { ...d, position, decidedAt: d.decidedAt ?? d.position },
  );
}
