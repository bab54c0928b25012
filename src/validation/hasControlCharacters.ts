// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const C0_C1 = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex -- the same, less newline (U+000A) and tab (U+0009)
const C0_C1_BUT_NEWLINE_AND_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/**
 * True when text holds a control character (C0 or C1). Newline and tab are allowed in text that may
 * span lines (a comment body, a flag description); `singleLine` refuses them too (an idempotency key).
 */
export function hasControlCharacters(text: string, options: { singleLine?: boolean } = {}): boolean {
  return (options.singleLine ? C0_C1 : C0_C1_BUT_NEWLINE_AND_TAB).test(text);
}
