/** True when text holds a control character (C0 or C1) other than newline and tab. */
export function hasControlCharacters(text: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(text);
}
