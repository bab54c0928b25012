/**
 * Compressed sparse rows, built from coordinate triples in O(nnz + rows + columns) with two counting
 * sorts (no comparison sort, so a million interactions cost a few passes over typed arrays).
 */
export interface Csr {
  readonly nRows: number;
  readonly nCols: number;
  /** Row r's entries are [rowStart[r], rowStart[r + 1]). Length nRows + 1. */
  readonly rowStart: Uint32Array;
  /** Column of each entry, ascending within a row, no duplicates. */
  readonly col: Uint32Array;
  readonly value: Float64Array;
}

/** The interactions as parallel arrays: entry e is (userIndex[e], itemIndex[e], weight[e]). */
export interface InteractionArrays {
  readonly userIndex: Uint32Array;
  readonly itemIndex: Uint32Array;
  readonly weight: Float32Array;
  readonly nUsers: number;
  readonly nItems: number;
}

/** Bad input names the first offending entry, so a caller can point at the row it came from. */
export class InteractionInputError extends RangeError {
  override readonly name = 'InteractionInputError';
}

function checkInput(input: InteractionArrays): void {
  const { userIndex, itemIndex, weight, nUsers, nItems } = input;
  for (const [name, n] of [
    ['nUsers', nUsers],
    ['nItems', nItems],
  ] as const) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
      throw new InteractionInputError(`${name} must be a whole number >= 0, got ${n}`);
  }
  if (itemIndex.length !== userIndex.length || weight.length !== userIndex.length)
    throw new InteractionInputError(
      `userIndex, itemIndex and weight must have the same length, got ${userIndex.length}, ` +
        `${itemIndex.length} and ${weight.length}`,
    );
  for (let e = 0; e < userIndex.length; e += 1) {
    if (userIndex[e]! >= nUsers)
      throw new InteractionInputError(`userIndex[${e}] is ${userIndex[e]}, beyond nUsers ${nUsers}`);
    if (itemIndex[e]! >= nItems)
      throw new InteractionInputError(`itemIndex[${e}] is ${itemIndex[e]}, beyond nItems ${nItems}`);
    const w = weight[e]!;
    if (!Number.isFinite(w) || w < 0)
      throw new InteractionInputError(`weight[${e}] must be finite and >= 0, got ${w}`);
  }
}

/**
 * The user x item matrix of the interactions: repeated (user, item) pairs are summed (several likes or
 * views of one item are one cell), zero weights dropped.
 */
export function buildUserItemCsr(input: InteractionArrays): Csr {
  checkInput(input);
  const { userIndex, itemIndex, weight, nUsers, nItems } = input;
  const nnzIn = userIndex.length;

  // Pass 1: stable counting sort by item. Pass 2: stable counting sort of that order by user, so
  // columns come out ascending inside every row and duplicates sit next to each other.
  const byItem = new Uint32Array(nnzIn);
  const itemStart = new Uint32Array(nItems + 1);
  for (let e = 0; e < nnzIn; e += 1) itemStart[itemIndex[e]! + 1]! += 1;
  for (let j = 0; j < nItems; j += 1) itemStart[j + 1]! += itemStart[j]!;
  const itemCursor = itemStart.slice(0, nItems);
  for (let e = 0; e < nnzIn; e += 1) byItem[itemCursor[itemIndex[e]!]!++] = e;

  const rowStart = new Uint32Array(nUsers + 1);
  for (let e = 0; e < nnzIn; e += 1) rowStart[userIndex[e]! + 1]! += 1;
  for (let u = 0; u < nUsers; u += 1) rowStart[u + 1]! += rowStart[u]!;
  const rowCursor = rowStart.slice(0, nUsers);
  const order = new Uint32Array(nnzIn);
  for (let s = 0; s < nnzIn; s += 1) {
    const e = byItem[s]!;
    order[rowCursor[userIndex[e]!]!++] = e;
  }

  // Merge duplicates and drop zeros in place, rewriting rowStart as we go.
  const col = new Uint32Array(nnzIn);
  const value = new Float64Array(nnzIn);
  let out = 0;
  for (let u = 0; u < nUsers; u += 1) {
    const begin = rowStart[u]!;
    const end = rowStart[u + 1]!;
    rowStart[u] = out;
    for (let s = begin; s < end; s += 1) {
      const e = order[s]!;
      const j = itemIndex[e]!;
      const w = weight[e]!;
      if (out > rowStart[u]! && col[out - 1] === j) value[out - 1]! += w;
      else if (w > 0) {
        col[out] = j;
        value[out] = w;
        out += 1;
      }
    }
  }
  rowStart[nUsers] = out;
  return { nRows: nUsers, nCols: nItems, rowStart, col: col.slice(0, out), value: value.slice(0, out) };
}

/** The transpose (item x user), in O(nnz + rows + columns); rows of the result stay column-sorted. */
export function transposeCsr(a: Csr): Csr {
  const nnz = a.col.length;
  const rowStart = new Uint32Array(a.nCols + 1);
  for (let e = 0; e < nnz; e += 1) rowStart[a.col[e]! + 1]! += 1;
  for (let j = 0; j < a.nCols; j += 1) rowStart[j + 1]! += rowStart[j]!;
  const cursor = rowStart.slice(0, a.nCols);
  const col = new Uint32Array(nnz);
  const value = new Float64Array(nnz);
  for (let r = 0; r < a.nRows; r += 1) {
    for (let e = a.rowStart[r]!; e < a.rowStart[r + 1]!; e += 1) {
      const at = cursor[a.col[e]!]!++;
      col[at] = r;
      value[at] = a.value[e]!;
    }
  }
  return { nRows: a.nCols, nCols: a.nRows, rowStart, col, value };
}

/**
 * out (a.nRows x width, row-major) = a * x (a.nCols x width, row-major). Row-major dense blocks keep
 * the inner loop on `width` contiguous numbers.
 */
export function multiplyDense(a: Csr, x: Float64Array, width: number, out: Float64Array): void {
  out.fill(0);
  for (let r = 0; r < a.nRows; r += 1) {
    const o = r * width;
    for (let e = a.rowStart[r]!; e < a.rowStart[r + 1]!; e += 1) {
      const w = a.value[e]!;
      const xo = a.col[e]! * width;
      for (let c = 0; c < width; c += 1) out[o + c]! += w * x[xo + c]!;
    }
  }
}
