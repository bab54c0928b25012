/**
 * Text Postgres cannot store: a NUL (refused in text, varchar and jsonb — 22021 / 22P05) and a lone
 * UTF-16 surrogate (no UTF-8 encoding exists; the driver would silently store U+FFFD instead).
 */
// eslint-disable-next-line no-control-regex -- NUL is exactly what is refused
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when Postgres can store this text as it is. */
export const isStorableText = (text: string): boolean => !UNSTORABLE.test(text);

/** Why a text is refused, for error messages (never echoes the text). */
export function unstorableReason(text: string): string {
  return text.includes('\u0000') ? 'a NUL character' : 'an unpaired UTF-16 surrogate';
}

/**
 * The first string (a value or an object key) in a JSON-like value that Postgres cannot store, with
 * its path (`a.b[2]`); undefined when every string is storable. Iterative and linear in the value's
 * size: each node is visited once, whatever its depth.
 */
export function findUnstorableText(value: unknown, root = ''): { path: string; reason: string } | undefined {
  // Paths are built only for the string refused: each entry links to its parent's.
  interface Step {
    parent: Step | null;
    segment: string;
  }
  const pathOf = (step: Step | null): string => {
    const segments: string[] = [];
    for (let s = step; s; s = s.parent) segments.push(s.segment);
    return segments
      .reverse()
      .reduce(
        (path, segment) => (segment.startsWith('[') || !path ? path + segment : `${path}.${segment}`),
        '',
      );
  };
  const stack: [unknown, Step | null][] = [[value, root ? { parent: null, segment: root } : null]];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const [current, at] = stack.pop() as [unknown, Step | null];
    if (typeof current === 'string') {
      if (!isStorableText(current)) return { path: pathOf(at), reason: unstorableReason(current) };
      continue;
    }
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i -= 1)
        stack.push([current[i], { parent: at, segment: `[${i}]` }]);
      continue;
    }
    for (const [key, child] of Object.entries(current)) {
      const step = { parent: at, segment: key };
      if (!isStorableText(key)) return { path: pathOf(step), reason: `${unstorableReason(key)} in a key` };
      stack.push([child, step]);
    }
  }
  return undefined;
}
