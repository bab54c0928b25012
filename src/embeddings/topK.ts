/**
 * The k best-scoring indices, best first, skipping excluded ones: one pass with a sorted buffer of k,
 * O(n * k) worst case and O(n) typically (most scores fail the first comparison). Ties go to the lower
 * index, so results are deterministic.
 */
export function topK(
  scores: ArrayLike<number>,
  k: number,
  excluded: (index: number) => boolean = () => false,
): number[] {
  const best: number[] = [];
  const bestScores: number[] = [];
  for (let i = 0; i < scores.length; i += 1) {
    const score = scores[i]!;
    if (Number.isNaN(score)) continue;
    if (best.length === k && score <= bestScores[k - 1]!) continue;
    if (excluded(i)) continue;
    let at = best.length;
    while (at > 0 && bestScores[at - 1]! < score) at -= 1;
    best.splice(at, 0, i);
    bestScores.splice(at, 0, score);
    if (best.length > k) {
      best.pop();
      bestScores.pop();
    }
  }
  return best;
}
