/**
 * PostgreSQL array literals built in one pass, for the statements a feed page sends with a few hundred
 * array elements. node-postgres turns a JavaScript array parameter into the same literal, but quotes and
 * escapes every element with two regular expressions (pg/lib/utils.js escapeElement); numbers and plain
 * words need neither. The text means the same value to PostgreSQL as pg's own.
 */

/** `{1,2,3}`: integers (int[] / bigint[]), or any finite numbers for float8[] (JavaScript's shortest round-trip form; NaN and ±Infinity as PostgreSQL spells them). */
export function numberArrayLiteral(values: ArrayLike<number>): string {
  return `{${Array.prototype.join.call(values, ',')}}`;
}

/** An element that needs no quotes: a non-empty word of letters, digits and `_ . : -`, not NULL. */
const BARE = /^[A-Za-z0-9_.:-]+$/;

/**
 * `{a,"b c",NULL}`: text elements (text[] / uuid[]), quoted (with `"` and `\` escaped) only where they
 * must be; null is SQL NULL.
 */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i] ?? null;
    if (i > 0) out += ',';
    out +=
      value === null
        ? 'NULL'
        : BARE.test(value) && value.toUpperCase() !== 'NULL'
          ? value
          : `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return `${out}}`;
}
