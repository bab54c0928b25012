import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, stat, writeFile } from 'node:fs/promises';
import type pg from 'pg';
import { CatalogRowError } from '../catalog/rows.js';
import { withClient } from '../db/checkout.js';
import { KIND_NAMES, KINDS, type Kind, type KindName, type RowReject, type Touched } from './kinds.js';
import type { ProgressSink } from './progress.js';
import { formatOf, readRecords, type SourceRecord } from './readRecords.js';
import { recountCounters } from './refreshDerived.js';
import {
  countCheckpointsSql,
  dropCheckpointsSql,
  readCheckpointSql,
  saveCheckpointSql,
  startCheckpointSql,
} from './sql.js';

/**
 * The bulk importer: files in order (categories → users → interests → listings → declared interests →
 * interactions), each streamed and written a batch per transaction through the same checks and
 * writers as the API, as the owner. Each batch's transaction also moves the file's checkpoint (keyed by
 * a fingerprint of the content), so a crash loses nothing and a re-run resumes after the last committed
 * batch. Bad rows go to the rejects file and the import goes on. History batches defer the like and
 * follow counters (lodestar.defer_counters), which are recounted after the files. Then the
 * `beforeRefresh` step (`--embed interactions`) and the `afterImport` hook (the derived-structure
 * refresh) run on the same pool.
 */

export type ImportFiles = Partial<Record<KindName, string>>;

export type AfterImport = (pool: pg.Pool, log: (line: string) => void) => Promise<Record<string, number>>;

/** What a step between the files and the refresh knows of the run. */
export interface ImportContext {
  source: string;
  /** The retention cutoff the run applied to intent signals. */
  retentionCutoff: Date;
}

/** A step after the files and before `afterImport` (e.g. `--embed interactions`); returns its counts. */
export type BeforeRefresh = (
  pool: pg.Pool,
  log: (line: string) => void,
  context: ImportContext,
) => Promise<Record<string, number>>;

export interface ImportOptions {
  /** Connects as the owner of the tables. */
  pool: pg.Pool;
  source: string;
  files: ImportFiles;
  /** One JSON line per rejected record: { file, line, field, message }. */
  rejectsPath: string;
  batchSize: number;
  /** Intent signals older than this many days are counted and skipped. */
  retentionDays: number;
  progress: ProgressSink;
  log: (line: string) => void;
  /** Runs after the files, before `afterImport` (which then derives from what it wrote). */
  beforeRefresh?: BeforeRefresh;
  afterImport?: AfterImport;
  /** Called after each committed batch (a test hook: the CLI crashes itself after N). */
  onBatchCommitted?: (batches: number) => void;
  now?: () => number;
}

export interface FileCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  skippedOld: number;
}

export interface FileSummary extends FileCounts {
  kind: KindName;
  path: string;
  /** Records skipped because an interrupted run had committed them. */
  resumedAfter: number;
  elapsedMs: number;
}

export interface ImportSummary {
  files: FileSummary[];
  rejectsPath: string;
  /** What the beforeRefresh step reported; null when it did not run. */
  embedded: Record<string, number> | null;
  /** What the afterImport hook reported; null when it did not run. */
  derived: Record<string, number> | null;
  /** Counter rows the recount after the files corrected (0 and 0 when no interactions were imported). */
  recounted: { listings: number; profiles: number };
  elapsedMs: number;
}

export const emptyCounts = (): FileCounts => ({
  read: 0,
  inserted: 0,
  updated: 0,
  unchanged: 0,
  rejected: 0,
  skippedOld: 0,
});

/** The content's SHA-256 (streamed): a changed file never resumes from another file's checkpoint. */
export async function fingerprintOf(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface Pending<T> {
  row: T;
  line: number;
}

interface Reject {
  file: string;
  line: number;
  field: string;
  message: string;
}

class FileImport<T> {
  private batch: Pending<T>[] = [];
  private keys = new Set<string>();
  private rejects: Reject[] = [];
  /** Records consumed (checked or refused) so far, including the ones resumed past. */
  position: number;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly kind: Kind<T>,
    private readonly path: string,
    private readonly fingerprint: string,
    private readonly options: ImportOptions,
    readonly counts: FileCounts,
    resumedAfter: number,
    private readonly retentionCutoff: Date,
    private readonly touched: Touched,
    private readonly committed: () => void,
  ) {
    this.position = resumedAfter;
  }

  /** One record: checked, then queued for the next batch or rejected. */
  async add(record: SourceRecord, now: number): Promise<void> {
    this.counts.read += 1;
    if (record.value === null) {
      this.reject(record.line, '(record)', record.problem ?? 'is unreadable');
    } else {
      const checked = this.kind.check(record.value, now);
      if (!checked.ok) {
        this.reject(record.line, checked.problem.field, checked.problem.message);
      } else {
        const key = this.kind.key?.(checked.row);
        if (key !== undefined) {
          if (this.keys.has(key)) await this.flush(false);
          this.keys.add(key);
        }
        this.batch.push({ row: checked.row, line: record.line });
      }
    }
    this.position += 1;
    if (this.batch.length >= this.options.batchSize) await this.flush(false);
  }

  private reject(line: number, field: string, message: string): void {
    this.counts.rejected += 1;
    this.rejects.push({ file: this.path, line, field, message });
  }

  /** Writes the batch and moves the checkpoint in one transaction; a refused row is rejected and the rest retried. */
  async flush(finished: boolean): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.keys = new Set();
    const { source } = this.options;
    await this.client.query('BEGIN');
    try {
      // Safe to not wait for the WAL flush: the checkpoint commits with the batch, so a server crash
      // that loses this commit loses both, and the re-run redoes the batch.
      await this.client.query('SET LOCAL synchronous_commit = off');
      let rows = batch;
      const counts = { ...this.counts };
      while (rows.length > 0) {
        await this.client.query('SAVEPOINT batch');
        try {
          const outcome = await this.kind.write(
            this.client,
            rows.map((p) => p.row),
            { source, retentionCutoff: this.retentionCutoff, touched: this.touched },
          );
          counts.inserted += outcome.inserted;
          counts.updated += outcome.updated;
          counts.unchanged += outcome.unchanged;
          counts.skippedOld += outcome.skippedOld;
          for (const r of outcome.rejects) this.rejectIn(counts, rows, r);
          break;
        } catch (error) {
          if (!(error instanceof CatalogRowError)) throw error;
          await this.client.query('ROLLBACK TO SAVEPOINT batch');
          this.rejectIn(counts, rows, { index: error.index, field: error.field, message: error.problem });
          rows = rows.filter((_, index) => index !== error.index);
        }
      }
      await this.client.query(saveCheckpointSql, [
        source,
        this.kind.name,
        this.fingerprint,
        this.position,
        JSON.stringify(counts),
        finished,
      ]);
      await this.client.query('COMMIT');
      Object.assign(this.counts, counts);
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    // After the commit: a crash before this line repeats these lines on resume, never loses them.
    if (this.rejects.length > 0) {
      await appendFile(this.options.rejectsPath, this.rejects.map((r) => `${JSON.stringify(r)}\n`).join(''));
      this.rejects = [];
    }
    this.committed();
  }

  private rejectIn(counts: FileCounts, rows: readonly Pending<T>[], r: RowReject): void {
    counts.rejected += 1;
    this.rejects.push({
      file: this.path,
      line: rows[r.index]?.line ?? 0,
      field: r.field,
      message: r.message,
    });
  }
}

export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const now = options.now ?? Date.now;
  const retentionCutoff = new Date(now() - options.retentionDays * 86_400_000);
  const plan = KIND_NAMES.flatMap((kind) => {
    const path = options.files[kind];
    return path === undefined ? [] : [{ kind, path }];
  });
  for (const { kind, path } of plan) {
    if (formatOf(path) === null) throw new Error(`--${kind}: ${path} must end in .ndjson, .jsonl or .csv`);
  }
  const fingerprints = await Promise.all(plan.map(({ path }) => fingerprintOf(path)));

  const summaries: FileSummary[] = [];
  let batches = 0;
  const touched: Touched = { listings: new Set(), profiles: new Set() };
  // An interrupted run's history batches deferred counters for rows this run does not see again.
  let resumedHistory = false;
  // withClient guards the connection (an 'error' listener; a broken client is destroyed, not reused).
  await withClient(options.pool, async (client) => {
    const { rows: earlier } = await client.query<{ n: string }>(countCheckpointsSql, [
      options.source,
      plan.map((p) => p.kind),
      fingerprints,
    ]);
    // A fresh run starts a fresh rejects file; a resumed one adds to the interrupted run's.
    if (Number(earlier[0]?.n ?? 0) === 0) await writeFile(options.rejectsPath, '');
    for (const [i, { kind, path }] of plan.entries()) {
      const fingerprint = fingerprints[i] as string;
      const fileStarted = Date.now();
      const { rows: saved } = await client.query<{
        rows_done: string;
        counts: FileCounts;
        finished: boolean;
      }>(readCheckpointSql, [options.source, kind, fingerprint]);
      const checkpoint = saved[0];
      const resumedAfter = checkpoint ? Number(checkpoint.rows_done) : 0;
      const counts = { ...emptyCounts(), ...(checkpoint?.counts ?? {}) };
      if (kind === 'interactions' && resumedAfter > 0) resumedHistory = true;
      if (checkpoint?.finished) {
        options.log(`${kind}: ${path} was imported completely by the interrupted run; skipped`);
        summaries.push({ kind, path, ...counts, resumedAfter, elapsedMs: 0 });
        continue;
      }
      if (!checkpoint) await client.query(startCheckpointSql, [options.source, kind, fingerprint]);
      const { size } = await stat(path);
      const file = new FileImport(
        client,
        KINDS[kind],
        path,
        fingerprint,
        options,
        counts,
        resumedAfter,
        retentionCutoff,
        touched,
        () => {
          batches += 1;
          options.onBatchCommitted?.(batches);
        },
      );
      const readBefore = counts.read;
      options.progress.start(kind, size, resumedAfter);
      const stream = readRecords(path, formatOf(path) ?? 'csv');
      let index = 0;
      const nowMs = now();
      for await (const record of stream.records) {
        index += 1;
        if (index <= resumedAfter) continue;
        await file.add(record, nowMs);
        options.progress.update(counts.read - readBefore, stream.bytesRead());
      }
      await file.flush(true);
      options.progress.finish(counts.read - readBefore, stream.bytesRead());
      summaries.push({ kind, path, ...file.counts, resumedAfter, elapsedMs: Date.now() - fileStarted });
    }
    // Everything is in: a later run of the same files starts from the top (and changes nothing).
    await client.query(dropCheckpointsSql, [options.source, plan.map((p) => p.kind), fingerprints]);
  });

  // After the client is back (PGlite has one session). A crash before this ends leaves the counters of
  // the imported likes and follows short until a re-run of the same command gets here.
  let recounted = { listings: 0, profiles: 0 };
  if (plan.some((p) => p.kind === 'interactions')) {
    const recountStarted = Date.now();
    recounted = await recountCounters(options.pool, resumedHistory ? null : touched);
    options.log(
      `counters recounted (${resumedHistory ? 'all, after a resumed run' : `${touched.listings.size} listings, ${touched.profiles.size} profiles`}): ` +
        `${recounted.listings} listings and ${recounted.profiles} profiles corrected in ${Date.now() - recountStarted} ms`,
    );
  }

  let embedded: Record<string, number> | null = null;
  if (options.beforeRefresh) {
    embedded = await options.beforeRefresh(options.pool, options.log, {
      source: options.source,
      retentionCutoff,
    });
  }

  let derived: Record<string, number> | null = null;
  if (options.afterImport) {
    options.log('refreshing derived structures');
    derived = await options.afterImport(options.pool, options.log);
  }
  return {
    files: summaries,
    rejectsPath: options.rejectsPath,
    embedded,
    derived,
    recounted,
    elapsedMs: Date.now() - started,
  };
}
