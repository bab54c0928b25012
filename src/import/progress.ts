/**
 * Import progress on stderr: on a terminal a bar redrawn in place (rows, rows/s, ETA); otherwise (a
 * log file, CI, a pipe) a plain line every `intervalMs`. The ETA comes from bytes read against the
 * file's size, the only measure of "how far" a streamed file has.
 */

export interface ProgressSink {
  start: (label: string, totalBytes: number, resumedRows: number) => void;
  update: (rows: number, bytes: number) => void;
  /** The file is done: a last line (ends the bar on a terminal). */
  finish: (rows: number, bytes: number) => void;
}

export interface ProgressOptions {
  write: (text: string) => void;
  tty: boolean;
  /** Plain mode: at most one line per interval (default 5 s). */
  intervalMs?: number;
  now?: () => number;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 100;

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function createProgress(options: ProgressOptions): ProgressSink {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 5000;
  let label = '';
  let total = 0;
  let startedAt = 0;
  let startBytes = -1;
  let lastShown = 0;
  let resumed = 0;

  const describe = (rows: number, bytes: number): { line: string; fraction: number } => {
    const elapsed = Math.max(now() - startedAt, 1) / 1000;
    const rate = rows / elapsed;
    const fraction = total > 0 ? Math.min(bytes / total, 1) : 1;
    // Bytes skipped on resume go by at reading speed, not writing speed: measure from the first update.
    const base = Math.max(startBytes, 0);
    const remaining = bytes > base ? (elapsed * (total - bytes)) / (bytes - base) : Number.NaN;
    const parts = [
      `${label}:`,
      `${count(rows)} rows`,
      `${count(rate)} rows/s`,
      `${(fraction * 100).toFixed(0)}%`,
      `ETA ${duration(remaining)}`,
    ];
    if (resumed > 0) parts.push(`(resumed after ${count(resumed)})`);
    return { line: parts.join(' '), fraction };
  };

  return {
    start(name, totalBytes, resumedRows) {
      label = name;
      total = totalBytes;
      resumed = resumedRows;
      startedAt = now();
      startBytes = -1;
      lastShown = startedAt;
      if (!options.tty) {
        options.write(
          `${name}: starting (${count(totalBytes)} bytes${resumedRows > 0 ? `, resuming after ${count(resumedRows)} rows` : ''})\n`,
        );
      }
    },
    update(rows, bytes) {
      if (startBytes < 0) startBytes = bytes;
      const t = now();
      if (t - lastShown < (options.tty ? REDRAW_MS : interval)) return;
      lastShown = t;
      const { line, fraction } = describe(rows, bytes);
      if (options.tty) {
        const filled = Math.round(fraction * BAR_WIDTH);
        options.write(`\r\x1b[K[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${line}`);
      } else {
        options.write(`${line}\n`);
      }
    },
    finish(rows, bytes) {
      const elapsed = Math.max(now() - startedAt, 1) / 1000;
      const line = `${label}: done, ${count(rows)} rows in ${elapsed.toFixed(1)} s (${count(rows / elapsed)} rows/s, ${count(bytes)} bytes)`;
      options.write(options.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    },
  };
}
