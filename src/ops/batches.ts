/**
 * Runs `step` (one bounded statement, at most `batch` rows) until a step touches fewer than `batch`
 * rows; returns the total. Long ops work is done this way, never as one giant statement.
 */
export async function repeatUntilShort(batch: number, step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step();
    total += n;
    if (n < batch) return total;
  }
}
