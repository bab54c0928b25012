/**
 * Interest embeddings for a catalogue whose item embeddings came from interactions: each interest is
 * the normalised mean of its member items' vectors (the listings of its category, or those explicitly
 * tagged with it). An interest none of whose members has a vector gets null, never a zero vector; so
 * does one whose members cancel out exactly.
 */

/** An item's vector, or null when it has none (e.g. `InteractionEmbeddings.vectorOf`). */
export type ItemVectorLookup = (item: number) => Float32Array | null;

export function interestEmbeddings<K>(
  itemVector: ItemVectorLookup,
  members: ReadonlyMap<K, Iterable<number>>,
): Map<K, Float32Array | null> {
  const result = new Map<K, Float32Array | null>();
  let dimension: number | undefined;
  for (const [interest, items] of members) {
    let sum: Float64Array | undefined;
    for (const item of items) {
      const vector = itemVector(item);
      if (vector === null) continue;
      dimension ??= vector.length;
      if (vector.length !== dimension)
        throw new RangeError(`item ${item}'s vector has ${vector.length} components, others ${dimension}`);
      sum ??= new Float64Array(dimension);
      for (let c = 0; c < dimension; c += 1) sum[c]! += vector[c]!;
    }
    result.set(interest, sum === undefined ? null : normalised(sum));
  }
  return result;
}

function normalised(sum: Float64Array): Float32Array | null {
  let sumSq = 0;
  for (let c = 0; c < sum.length; c += 1) sumSq += sum[c]! * sum[c]!;
  if (!(sumSq > 1e-24)) return null;
  const inv = 1 / Math.sqrt(sumSq);
  const out = new Float32Array(sum.length);
  for (let c = 0; c < sum.length; c += 1) out[c] = sum[c]! * inv;
  return out;
}
