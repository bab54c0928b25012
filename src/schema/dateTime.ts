/**
 * The DateTime scalar's input: an RFC 3339 instant (ISO 8601 with a date, a time and a zone), e.g.
 * 2026-11-28T17:00:00Z or 2026-11-28T18:00:00.250+01:00. `new Date()` alone takes far more: other formats
 * ("Dec 5 2026"), a date without a time, a time without a zone (read in the server's zone), days past the
 * month's end (2026-02-30 became 2 March) and six-digit years whose arithmetic leaves the range a Date
 * can hold. Those are a caller's mistakes, refused here (null), never guessed at.
 */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

export function parseInstant(text: string): Date | null {
  const match = RFC3339.exec(text);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = match[9] === undefined ? 0 : Number(match[9]);
  const offsetMinutes = match[10] === undefined ? 0 : Number(match[10]);
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  if (offsetHours > 23 || offsetMinutes > 59) return null;
  // The day must exist in its month (UTC has no gaps, so the calendar alone decides).
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  const date = new Date(text.replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? null : date;
}
