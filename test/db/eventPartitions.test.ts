import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMigrationsDir, migrateUrl, readMigrations } from '../../src/db/migrator.js';
import { uuidV7s } from '../../src/platform/uuidV7.js';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertCategory, insertListing, insertProfile } from '../support/fixtures.js';
import { checkOnlineMigration, onlineVerdict, verdictOf } from '../support/onlineMigrations.js';

/**
 * Issue #18 item 3: learning_events and intent_signals are partitioned by week. The conversion keeps every
 * row without copying one (the table becomes the first partition), GC drops whole weeks and deletes row by
 * row only where the retention window cuts a partition, and feedback on an impression reads its own week.
 */

const FIRST_PARTITIONED = '20261209010000_event_logs_partition_bound';

interface Partition {
  name: string;
  from: string | null;
  to: string | null;
  isDefault: boolean;
}

const partitionsOf = async (q: pg.Pool | pg.ClientBase, table: string): Promise<Partition[]> =>
  (
    await q.query<Partition>(
      `SELECT partition::text AS name, range_from::text AS "from", range_to::text AS "to", is_default AS "isDefault"
         FROM event_log_partitions($1::regclass) ORDER BY range_from NULLS FIRST, is_default`,
      [table],
    )
  ).rows;

/** A database whose past 10 weeks are weekly partitions, as one that has run partitioned that long. */
async function withPastWeeks(db: TestDatabase, weeks: number): Promise<void> {
  // The template's first partition (before the migration's week) is empty: it gives way to weeks.
  await db.pool.query('DROP TABLE learning_events_legacy, intent_signals_legacy');
  await db.pool.query(`SELECT create_event_partitions(p_from => now() - $1::int * interval '7 days')`, [
    weeks,
  ]);
}

async function insertEvents(
  q: pg.Pool,
  opts: { userId: string; listingId: number; days: number; perDay: number },
): Promise<void> {
  // perDay events on each of the last `days` days (at the same hour as now, so day 0 is now).
  await q.query(
    `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, created_at)
     SELECT $1, $2, 'epsilon_greedy', 'SIMILAR', 0.5, 0, now() - d * interval '1 day' - n * interval '1 second'
       FROM generate_series(0, $3::int - 1) d, generate_series(1, $4::int) n`,
    [opts.userId, opts.listingId, opts.days, opts.perDay],
  );
}

describe('event log partitions', () => {
  describe('the conversion of a table with rows (the migrations in order, rows in place)', () => {
    let db: TestDatabase;
    let dir: string;

    beforeAll(async () => {
      db = await createTestDatabase({ template: null });
      dir = await mkdtemp(path.join(tmpdir(), 'lodestar-partitions-'));
      const files = await readMigrations();
      const first = files.findIndex((f) => f.name === FIRST_PARTITIONED);
      for (const file of files.slice(0, first)) {
        await cp(path.join(defaultMigrationsDir, file.name), path.join(dir, file.name), { recursive: true });
      }
      await migrateUrl(db.url, { dir });
    }, 60_000);

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    });

    it('keeps every row where it was (no copy, no index build), takes no long lock, and new rows go to weeks', async () => {
      const categoryId = await insertCategory(db.pool);
      const userId = await insertProfile(db.pool);
      const listingId = await insertListing(db.pool, { categoryId });
      await insertEvents(db.pool, { userId, listingId, days: 90, perDay: 50 });
      await db.pool.query(
        `INSERT INTO intent_signals (user_id, kind, listing_id, created_at)
         SELECT $1, 'view', $2, now() - g * interval '1 hour' FROM generate_series(1, 2000) g`,
        [userId, listingId],
      );
      const fingerprint = async (table: string) =>
        (
          await db.pool.query<{ n: number; h: string }>(
            `SELECT count(*)::int AS n, md5(string_agg(id::text || created_at::text, ',' ORDER BY id)) AS h FROM ${table}`,
          )
        ).rows[0];
      // The table's file and its indexes' files but the primary key's (id), which step 5 replaces.
      const storage = async (table: string) =>
        (
          await db.pool.query<{ nodes: number[] }>(
            `SELECT array_agg(c.relfilenode ORDER BY c.relfilenode) AS nodes FROM pg_class c
              WHERE c.oid = $1::regclass
                 OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1::regclass AND NOT indisprimary)`,
            [table],
          )
        ).rows[0]!.nodes;
      const before = {
        events: await fingerprint('learning_events'),
        signals: await fingerprint('intent_signals'),
        eventStorage: await storage('learning_events'),
        lastSignal: (await db.pool.query<{ id: string }>('SELECT max(id) AS id FROM intent_signals')).rows[0]!
          .id,
      };

      // Each migration applied as a deploy applies it, with writers probing every hot table meanwhile.
      const files = await readMigrations();
      const first = files.findIndex((f) => f.name === FIRST_PARTITIONED);
      for (const file of files.slice(first)) {
        const report = await checkOnlineMigration(db.url, file, { allowedMs: 300 });
        expect(verdictOf(file.name, report)).toEqual(onlineVerdict(file.name));
      }

      expect(await fingerprint('learning_events')).toEqual(before.events);
      expect(await fingerprint('intent_signals')).toEqual(before.signals);
      // The table and its indexes are the same files, now the first partition and its indexes; its
      // primary key is the (id, created_at) index built concurrently before the switch.
      expect(await storage('learning_events_legacy')).toEqual(before.eventStorage);
      const key = await db.pool.query<{ def: string }>(
        `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index
          WHERE indrelid = 'learning_events_legacy'::regclass AND indisprimary`,
      );
      expect(key.rows.map((r) => r.def)).toEqual([
        expect.stringContaining(
          'learning_events_legacy_pkey ON public.learning_events_legacy USING btree (id, created_at)',
        ),
      ]);

      const events = await partitionsOf(db.pool, 'learning_events');
      expect(events[0]).toMatchObject({ name: 'learning_events_legacy', from: null });
      expect(events.filter((p) => p.isDefault).map((p) => p.name)).toEqual(['learning_events_default']);
      // Weekly partitions from the legacy bound (a Monday, 7–14 days ahead) to at least 4 weeks ahead.
      const weeks = events.filter((p) => !p.isDefault && p.from !== null);
      expect(weeks.length).toBeGreaterThanOrEqual(2);
      for (const week of weeks) {
        expect(new Date(week.to!).getTime() - new Date(week.from!).getTime()).toBe(7 * 86_400_000);
        expect(new Date(week.from!).getUTCDay()).toBe(1);
      }
      expect(new Date(weeks.at(-1)!.to!).getTime()).toBeGreaterThan(Date.now() + 27 * 86_400_000);

      // intent_signals' ids go on from where the table's sequence stopped.
      const next = await db.pool.query<{ id: string; part: string }>(
        `INSERT INTO intent_signals (user_id, kind, listing_id) VALUES ($1, 'view', $2)
         RETURNING id, tableoid::regclass::text AS part`,
        [userId, listingId],
      );
      expect(BigInt(next.rows[0]!.id)).toBeGreaterThan(BigInt(before.lastSignal));
      // A row dated in a week of its own lands in that week's partition.
      const later = await db.pool.query<{ part: string }>(
        `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, created_at)
         VALUES ($1, $2, 'p', 'SIMILAR', 0.5, 0, $3) RETURNING tableoid::regclass::text AS part`,
        [userId, listingId, weeks[1]!.from],
      );
      expect(later.rows[0]!.part).toBe(weeks[1]!.name);

      // The gateway's role still writes through the parent, with the parent's policy, and reads nothing.
      await asIdentity(db, { role: 'service', userId }, async (client) => {
        await client.query('SET LOCAL ROLE lodestar_service');
        await client.query(
          `INSERT INTO learning_events (id, user_id, listing_id, policy, source, propensity, position)
           VALUES ($1, $2, $3, 'p', 'SIMILAR', 0.5, 0)`,
          [uuidV7s(1)[0], userId, listingId],
        );
        await expect(
          client.query(
            `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, reward)
             VALUES ($1, $2, 'p', 'SIMILAR', 0.5, 0, 1)`,
            [userId, listingId],
          ),
        ).rejects.toMatchObject({ code: '42501' });
      });
      await asIdentity(db, { role: 'user', userId }, async (client) => {
        await expect(client.query('SELECT 1 FROM learning_events_legacy LIMIT 1')).rejects.toMatchObject({
          code: '42501',
        });
      });
      await asIdentity(db, { role: 'user', userId }, async (client) => {
        // intent_signals: a user sees their own, through the parent's policy.
        const own = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM intent_signals');
        expect(own.rows[0]!.n).toBe(2001);
      });

      // GC of the converted table: 90 days of events, 30 kept; the legacy partition straddles the cutoff,
      // so its rows go in batches (it is dropped whole once its bound is past the retention).
      const gc = await db.pool.query<{ n: string }>(`SELECT gc_learning_events(interval '30 days') AS n`);
      const expired = before.events!.n - 30 * 50;
      expect(Number(gc.rows[0]!.n)).toBe(expired);
    }, 120_000);
  });

  describe('on a database that has run partitioned for ten weeks', () => {
    let db: TestDatabase;
    let userId: string;
    let listingId: number;

    beforeAll(async () => {
      db = await createTestDatabase();
      await withPastWeeks(db, 10);
      const categoryId = await insertCategory(db.pool);
      userId = await insertProfile(db.pool);
      listingId = await insertListing(db.pool, { categoryId });
    });

    afterAll(async () => {
      await db.drop();
    });

    it("GC drops the weeks wholly past the retention, deletes only the straddling week's old rows, and counts both", async () => {
      await db.pool.query('TRUNCATE learning_events');
      await insertEvents(db.pool, { userId, listingId, days: 70, perDay: 20 });
      const old = (
        await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM learning_events WHERE created_at < now() - interval '30 days'`,
        )
      ).rows[0]!.n;
      const before = await partitionsOf(db.pool, 'learning_events');
      const cutoff = Date.now() - 30 * 86_400_000;
      const wholly = before.filter((p) => p.to !== null && new Date(p.to).getTime() <= cutoff);
      const straddling = before.find(
        (p) =>
          p.from !== null &&
          p.to !== null &&
          new Date(p.from).getTime() < cutoff &&
          new Date(p.to).getTime() > cutoff,
      )!;
      expect(wholly.length).toBeGreaterThanOrEqual(4);

      // A bounded run (the worker sharing its connection) deletes its bound in the straddling week and
      // drops nothing: the drops come last, once the row-by-row part is done.
      const bounded = await db.pool.query<{ n: string }>(
        `SELECT gc_learning_events(interval '30 days', p_max_rows => 5) AS n`,
      );
      expect(Number(bounded.rows[0]!.n)).toBe(5);
      expect((await partitionsOf(db.pool, 'learning_events')).map((p) => p.name)).toEqual(
        before.map((p) => p.name),
      );

      const { rows } = await db.pool.query<{ n: string }>(
        `SELECT gc_learning_events(interval '30 days') AS n`,
      );
      expect(Number(rows[0]!.n)).toBe(old - 5);

      const after = await partitionsOf(db.pool, 'learning_events');
      expect(after.map((p) => p.name)).toEqual(
        before.filter((p) => !wholly.some((w) => w.name === p.name)).map((p) => p.name),
      );
      const left = await db.pool.query<{ n: number; oldest: Date }>(
        'SELECT count(*)::int AS n, min(created_at) AS oldest FROM learning_events',
      );
      expect(left.rows[0]!.n).toBe(70 * 20 - old);
      expect(left.rows[0]!.oldest.getTime()).toBeGreaterThanOrEqual(cutoff - 5000);
      // Row by row only in the straddling week: its deletes are the only dead tuples GC made.
      await db.pool.query('SELECT pg_stat_force_next_flush()');
      const deleted = await db.pool.query<{ relname: string; n: number }>(
        `SELECT relname, n_tup_del::int AS n FROM pg_stat_user_tables
          WHERE relid IN (SELECT partition FROM event_log_partitions('learning_events')) AND n_tup_del > 0`,
      );
      expect(deleted.rows.map((r) => r.relname)).toEqual([straddling.name]);
      // ops.tableBloat (vw_table_bloat) counts a partitioned log's partitions: those deletes' dead tuples.
      const bloat = await db.pool.query<{ dead: string; live: string }>(
        `SELECT dead_tuples AS dead, live_tuples AS live FROM vw_table_bloat WHERE table_name = 'learning_events'`,
      );
      expect(Number(bloat.rows[0]!.dead)).toBe(deleted.rows[0]!.n);
      expect(Number(bloat.rows[0]!.live)).toBe(70 * 20 - old);

      // A second run has nothing left to do.
      const again = await db.pool.query<{ n: string }>(`SELECT gc_learning_events(interval '30 days') AS n`);
      expect(Number(again.rows[0]!.n)).toBe(0);
    });

    it('GC that cannot get its lock leaves the week for the next run, deleting none of it row by row', async () => {
      await db.pool.query('TRUNCATE intent_signals');
      await db.pool.query(
        `INSERT INTO intent_signals (user_id, kind, listing_id, created_at)
         SELECT $1, 'view', $2, now() - d * interval '1 day' FROM generate_series(0, 59) d`,
        [userId, listingId],
      );
      const holder = new pg.Client({ connectionString: db.url });
      holder.on('error', () => undefined);
      await holder.connect();
      try {
        // A long reader of the table (an analytics query, a backup's COPY) holds ACCESS SHARE.
        await holder.query('BEGIN');
        await holder.query('SELECT count(*) FROM intent_signals');
        const held = await db.pool.query<{ n: string }>(`SELECT gc_intent_signals(interval '30 days') AS n`);
        // Only the straddling week's rows older than 30 days went; the wholly old weeks wait, whole.
        const waiting = (
          await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM intent_signals WHERE created_at < now() - interval '30 days'`,
          )
        ).rows[0]!.n;
        expect(waiting).toBeGreaterThan(0);
        expect(Number(held.rows[0]!.n)).toBe(30 - waiting);
        await holder.query('COMMIT');
        const freed = await db.pool.query<{ n: string }>(`SELECT gc_intent_signals(interval '30 days') AS n`);
        expect(Number(freed.rows[0]!.n)).toBe(waiting);
        const left = await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM intent_signals WHERE created_at < now() - interval '30 days'`,
        );
        expect(left.rows[0]!.n).toBe(0);
      } finally {
        await holder.end();
      }
    }, 30_000);

    it('GC while likes (their reward trigger) and cascaded deletes run: no deadlock, no failed write', async () => {
      await db.pool.query('TRUNCATE learning_events');
      await insertEvents(db.pool, { userId, listingId, days: 60, perDay: 10 });
      const categoryId = await insertCategory(db.pool);
      const writer = new pg.Client({ connectionString: db.url });
      writer.on('error', () => undefined);
      await writer.connect();
      let stop = false;
      let writes = 0;
      const errors: string[] = [];
      const writing = (async () => {
        while (!stop) {
          try {
            await writer.query('BEGIN');
            // A like (trg_likes_reward updates the latest impression) and a listing deleted with its
            // impressions (the foreign key's cascade reads every partition).
            await writer.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [
              userId,
              listingId,
            ]);
            const doomed = await insertListing(writer, { categoryId });
            await writer.query(
              `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position)
               VALUES ($1, $2, 'p', 'SIMILAR', 0.5, 0)`,
              [userId, doomed],
            );
            await writer.query('DELETE FROM marketplace_listings WHERE id = $1', [doomed]);
            await writer.query('DELETE FROM likes WHERE user_id = $1 AND listing_id = $2', [
              userId,
              listingId,
            ]);
            await writer.query('COMMIT');
            writes += 1;
          } catch (error) {
            errors.push(String(error));
            await writer.query('ROLLBACK');
          }
        }
      })();
      try {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const { rows } = await db.pool.query<{ n: string }>(
          `SELECT gc_learning_events(interval '30 days') AS n`,
        );
        expect(Number(rows[0]!.n)).toBeGreaterThan(0);
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        stop = true;
        await writing;
        await writer.end();
      }
      expect(errors).toEqual([]);
      expect(writes).toBeGreaterThan(5);
      const left = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM learning_events WHERE created_at < now() - interval '30 days'`,
      );
      expect(left.rows[0]!.n).toBe(0);
    });

    it("reads and writes partition bounds in UTC whatever the session's TimeZone and DateStyle", async () => {
      const odd = new pg.Client({ connectionString: db.url });
      odd.on('error', () => undefined);
      await odd.connect();
      try {
        await odd.query(`SET TimeZone = 'Asia/Kolkata'`);
        await odd.query(`SET DateStyle = 'SQL, DMY'`);
        await odd.query(`SELECT create_event_partitions(p_ahead => interval '50 days')`);
        await odd.query(`SET TimeZone = 'Europe/Dublin'`);
        await odd.query('TRUNCATE intent_signals');
        // One row a minute around an hour 20 days back (a week that still has its partition), on both sides of a cutoff inside it.
        await odd.query(
          `INSERT INTO intent_signals (user_id, kind, listing_id, created_at)
           SELECT $1, 'view', $2, now() - interval '20 days' + m * interval '1 minute' FROM generate_series(-30, 29) m`,
          [userId, listingId],
        );
        const { rows } = await odd.query<{ n: string }>(`SELECT gc_intent_signals(interval '20 days') AS n`);
        // Exactly the 30 rows older than the cutoff (give or take the one at the seconds between statements).
        expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(30);
        expect(Number(rows[0]!.n)).toBeLessThanOrEqual(31);
      } finally {
        await odd.end();
      }
      for (const table of ['learning_events', 'intent_signals']) {
        const weeks = (await partitionsOf(db.pool, table)).filter((p) => p.from !== null && !p.isDefault);
        for (const week of weeks) {
          const from = new Date(week.from!);
          expect([from.getUTCDay(), from.getUTCHours(), from.getUTCMinutes()], week.name).toEqual([1, 0, 0]);
          expect(week.name).toBe(`${table}_p${from.toISOString().slice(0, 10).replaceAll('-', '')}`);
        }
        // No gap between consecutive weeks.
        for (let i = 1; i < weeks.length; i += 1) expect(weeks[i]!.from).toBe(weeks[i - 1]!.to);
      }
    });

    it('a row with no week goes to the DEFAULT partition (never an error), and making its week moves it there', async () => {
      const farAhead = await db.pool.query<{ part: string }>(
        `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, created_at)
         VALUES ($1, $2, 'p', 'SIMILAR', 0.5, 0, now() + interval '60 days') RETURNING tableoid::regclass::text AS part`,
        [userId, listingId],
      );
      expect(farAhead.rows[0]!.part).toBe('learning_events_default');
      const farWeek = (
        await db.pool.query<{ week: string }>(
          `SELECT to_char(event_log_week(now() + interval '60 days') AT TIME ZONE 'UTC', 'YYYYMMDD') AS week`,
        )
      ).rows[0]!.week;
      const health = await db.pool.query<{ parent: string; default_rows: string; covered_until: Date }>(
        'SELECT parent, default_rows, covered_until FROM event_partition_health() ORDER BY parent',
      );
      expect(health.rows.map((r) => [r.parent, Number(r.default_rows)])).toEqual([
        ['intent_signals', 0],
        ['learning_events', 1],
      ]);

      // The worker's role makes partitions (and nothing else on them); a user may not.
      const made = await db.pool.connect();
      made.on('error', () => undefined);
      try {
        await made.query('BEGIN');
        await made.query('SET LOCAL ROLE lodestar_worker');
        const { rows } = await made.query<{ made: string[] }>(
          `SELECT create_event_partitions(p_ahead => interval '70 days') AS made`,
        );
        expect(rows[0]!.made).toContain(`learning_events_p${farWeek}`);
        await made.query('COMMIT');
      } finally {
        // A failed assertion must not hand the pool a connection still in the worker's transaction.
        await made.query('ROLLBACK').catch(() => undefined);
        made.release();
      }
      const moved = await db.pool.query<{ part: string }>(
        `SELECT tableoid::regclass::text AS part FROM learning_events WHERE created_at > now() + interval '59 days'`,
      );
      expect(moved.rows).toHaveLength(1);
      expect(moved.rows[0]!.part).toMatch(/^learning_events_p\d{8}$/);
      const after = await db.pool.query<{ default_rows: string }>(
        `SELECT default_rows FROM event_partition_health() WHERE parent = 'learning_events'`,
      );
      expect(Number(after.rows[0]!.default_rows)).toBe(0);

      await asIdentity(db, { role: 'user', userId }, async (client) => {
        await expect(client.query('SELECT create_event_partitions()')).rejects.toMatchObject({
          code: '42501',
        });
      });
    });

    it('feedback on an impression reads only its own week (the UUIDv7 id carries its time); an older id still works', async () => {
      await db.pool.query('TRUNCATE learning_events');
      await insertEvents(db.pool, { userId, listingId, days: 60, perDay: 5 });
      const [v7] = uuidV7s(1);
      const v4 = '0b6f3a52-3c1e-4d8e-9a51-6f0a2b7c9d10';
      for (const id of [v7, v4]) {
        await db.pool.query(
          `INSERT INTO learning_events (id, user_id, listing_id, policy, source, propensity, position)
           VALUES ($1, $2, $3, 'p', 'SIMILAR', 0.5, 0)`,
          [id, userId, listingId],
        );
      }
      const client = await db.pool.connect();
      client.on('error', () => undefined);
      const scans = async () => {
        await client.query('SELECT pg_stat_force_next_flush()');
        await client.query('SELECT pg_stat_clear_snapshot()');
        // Every scan of a partition, by index or not (the planner may read an empty one sequentially).
        const { rows } = await client.query<{ relname: string; scans: string }>(
          `SELECT relname, coalesce(idx_scan, 0) + seq_scan AS scans FROM pg_stat_user_tables
            WHERE relid IN (SELECT partition FROM event_log_partitions('learning_events'))`,
        );
        return new Map(rows.map((r) => [r.relname, Number(r.scans)]));
      };
      const feedback = async (id: string) => {
        await client.query('BEGIN');
        await client.query(
          `SELECT set_config('lodestar.user_id', $1, true), set_config('lodestar.role', 'user', true)`,
          [userId],
        );
        await client.query('SET LOCAL ROLE lodestar_app');
        const { rows } = await client.query<{ ok: boolean }>('SELECT record_learning_reward($1, 0.5) AS ok', [
          id,
        ]);
        await client.query('COMMIT');
        return rows[0]!.ok;
      };
      const read = async (id: string) => {
        const before = await scans();
        expect(await feedback(id)).toBe(true);
        const after = await scans();
        return [...after].filter(([name, n]) => n > (before.get(name) ?? 0)).map(([name]) => name);
      };
      try {
        const partitions = (await partitionsOf(db.pool, 'learning_events')).length;
        expect(partitions).toBeGreaterThanOrEqual(12);
        // Its week, and the next or previous when the id's day crosses a Monday; never more.
        const v7Reads = await read(v7!);
        expect(v7Reads.length).toBeGreaterThanOrEqual(1);
        expect(v7Reads.length).toBeLessThanOrEqual(2);
        // An id without a time (made by a gateway before this release): every partition, still found.
        expect((await read(v4)).length).toBe(partitions);
        // A UUIDv7 whose time is far from its row's (a gateway's clock off by days): found all the same.
        const [skewed] = uuidV7s(1, Date.now() - 20 * 86_400_000);
        await db.pool.query(
          `INSERT INTO learning_events (id, user_id, listing_id, policy, source, propensity, position)
           VALUES ($1, $2, $3, 'p', 'SIMILAR', 0.5, 0)`,
          [skewed, userId, listingId],
        );
        expect(await feedback(skewed!)).toBe(true);
        const rewarded = await db.pool.query<{ id: string; reward: number }>(
          'SELECT id, reward FROM learning_events WHERE reward IS NOT NULL ORDER BY id',
        );
        expect(rewarded.rows).toEqual([v4, v7!, skewed!].sort().map((id) => ({ id, reward: 0.5 })));
      } finally {
        client.release();
      }
    });
  });
});
