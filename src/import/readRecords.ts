import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse, type CsvError } from 'csv-parse';

/**
 * An input file as a stream of records, NDJSON or CSV by its extension (.ndjson/.jsonl, .csv), read
 * with back-pressure so memory stays bounded whatever the file's size. Every record the file holds is
 * yielded in order, the unreadable ones too (a line that is not a JSON object, a CSV row with the wrong
 * number of cells) with their problem, so that record positions are the same on every run: the
 * checkpoint counts them.
 */

export interface SourceRecord {
  /** 1-based line in the file (for CSV, the line the record ends on). */
  line: number;
  value: Readonly<Record<string, unknown>> | null;
  /** Why value is null. */
  problem?: string;
}

export interface RecordStream {
  records: AsyncIterable<SourceRecord>;
  /** Bytes read from the file so far (for progress and ETA). */
  bytesRead: () => number;
}

export type FileFormat = 'ndjson' | 'csv';

export function formatOf(path: string): FileFormat | null {
  if (/\.(ndjson|jsonl)$/i.test(path)) return 'ndjson';
  if (/\.csv$/i.test(path)) return 'csv';
  return null;
}

async function* ndjsonRecords(input: NodeJS.ReadableStream): AsyncGenerator<SourceRecord> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { line, value: null, problem: 'is not valid JSON' };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { line, value: null, problem: 'is not a JSON object' };
      continue;
    }
    yield { line, value: value as Record<string, unknown> };
  }
}

async function* csvRecords(input: NodeJS.ReadableStream): AsyncGenerator<SourceRecord> {
  // A malformed row is skipped by the parser and reported here, in its place among the records.
  const skipped: SourceRecord[] = [];
  const parser = parse({
    columns: true,
    bom: true,
    info: true,
    trim: false,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (error: CsvError | undefined) => {
      const line = typeof error?.lines === 'number' ? error.lines : 0;
      skipped.push({
        line,
        value: null,
        problem: `is not a valid CSV row (${error?.message ?? 'unreadable'})`,
      });
      return undefined;
    },
  });
  input.pipe(parser);
  for await (const entry of parser as AsyncIterable<{
    info: { lines: number };
    record: Record<string, string>;
  }>) {
    while (skipped.length > 0) yield skipped.shift() as SourceRecord;
    yield { line: entry.info.lines, value: entry.record };
  }
  while (skipped.length > 0) yield skipped.shift() as SourceRecord;
}

export function readRecords(path: string, format: FileFormat): RecordStream {
  const stream = createReadStream(path);
  return {
    records: format === 'ndjson' ? ndjsonRecords(stream) : csvRecords(stream),
    bytesRead: () => stream.bytesRead,
  };
}
