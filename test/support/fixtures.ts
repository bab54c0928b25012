import type pg from 'pg';
import type { TestDatabase } from './db.js';

/** Anything that can run a parameterised query: a pool, a pooled client or a plain client. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

export const EMBEDDING_DIM = 384;

/** A deterministic pseudo-random vector (values in -1..1, float32-exact) for a given seed. */
export function embeddingFor(seed: number, dim = EMBEDDING_DIM): number[] {
  let state = (seed * 2654435761) >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < dim; i += 1) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out.push(Math.fround((state / 0xffffffff) * 2 - 1));
  }
  return out;
}

/** The pgvector text literal `[a,b,...]`; bind it as `$n::vector`. */
export function toVectorLiteral(values: readonly number[]): string {
  return `[${values.join(',')}]`;
}

/** Parses pgvector's text output back into numbers. */
export function parseVector(text: string): number[] {
  return text
    .replace(/^\[|\]$/g, '')
    .split(',')
    .map((v) => Number(v));
}

/** percentile_cont: linear interpolation between the closest ranks, as Postgres computes it. */
export function percentileCont(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) throw new Error('percentileCont of an empty list');
  const pos = fraction * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

let counter = 0;
/** A short unique suffix for handles and slugs (lower-case, digits). */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}${process.pid}x${counter}`;
}

async function one<R extends pg.QueryResultRow>(q: Queryable, text: string, values: unknown[]): Promise<R> {
  const { rows } = await q.query<R>(text, values);
  if (!rows[0]) throw new Error(`fixture insert returned no row: ${text}`);
  return rows[0];
}

export async function insertCategory(q: Queryable, slug = unique('cat-')): Promise<number> {
  const row = await one<{ id: number }>(
    q,
    `INSERT INTO categories (slug, name) VALUES ($1, $1) RETURNING id`,
    [slug],
  );
  return row.id;
}

export async function insertInterest(
  q: Queryable,
  opts: { categoryId: number; embedding?: readonly number[] | null; slug?: string },
): Promise<number> {
  const slug = opts.slug ?? unique('int-');
  const vec = opts.embedding ? toVectorLiteral(opts.embedding) : null;
  const row = await one<{ id: number }>(
    q,
    `INSERT INTO interest_catalog (slug, name, category_id, embedding) VALUES ($1, $1, $2, $3::vector) RETURNING id`,
    [slug, opts.categoryId, vec],
  );
  return row.id;
}

export async function insertProfile(
  q: Queryable,
  opts: { handle?: string; displayName?: string; role?: 'user' | 'admin' | 'service' } = {},
): Promise<string> {
  const handle = opts.handle ?? unique('u_');
  const row = await one<{ user_id: string }>(
    q,
    `INSERT INTO profiles (handle, display_name, role) VALUES ($1, $2, $3) RETURNING user_id`,
    [handle, opts.displayName ?? handle, opts.role ?? 'user'],
  );
  return row.user_id;
}

/** reinforcedAt / decayedAt are timestamptz literals or SQL-castable text; defaults to now(). */
export async function insertUserInterest(
  q: Queryable,
  opts: { userId: string; interestId: number; affinity: number; reinforcedAt?: string; decayedAt?: string },
): Promise<void> {
  await q.query(
    `INSERT INTO user_interests (user_id, interest_id, affinity, reinforced_at, decayed_at)
     VALUES ($1, $2, $3, coalesce($4::timestamptz, now()), $5::timestamptz)`,
    [opts.userId, opts.interestId, opts.affinity, opts.reinforcedAt ?? null, opts.decayedAt ?? null],
  );
}

export async function insertListing(
  q: Queryable,
  opts: {
    categoryId: number;
    sellerId?: string | null;
    status?: 'active' | 'sold' | 'inactive' | 'removed';
    embedding?: readonly number[] | null;
    title?: string;
  },
): Promise<number> {
  const row = await one<{ id: number }>(
    q,
    `INSERT INTO marketplace_listings (category_id, seller_id, title, price, status, embedding)
     VALUES ($1, $2, $3, 10, $4, $5::vector) RETURNING id`,
    [
      opts.categoryId,
      opts.sellerId ?? null,
      opts.title ?? 'A listing',
      opts.status ?? 'active',
      opts.embedding ? toVectorLiteral(opts.embedding) : null,
    ],
  );
  return row.id;
}

export interface QueueItemOptions {
  status: string;
  attempts?: number;
  /** How long ago the item was created, as an interval ('10 minutes'). */
  createdAgo?: string;
  /** Lease expiry relative to now(), as an interval ('5 minutes' or '-5 minutes'); sets a lease token. */
  leaseExpiresIn?: string;
  lastError?: string | null;
  idempotencyKey?: string | null;
}

const queueValues = (o: QueueItemOptions): unknown[] => [
  o.status,
  o.attempts ?? 0,
  o.createdAgo ?? '0 seconds',
  o.leaseExpiresIn ?? null,
  o.lastError ?? null,
  o.idempotencyKey ?? null,
];

export async function insertEvent(q: Queryable, opts: QueueItemOptions): Promise<number> {
  const row = await one<{ id: string }>(
    q,
    `INSERT INTO events_queue (kind, status, attempts, created_at, lease_token, lease_expires_at, last_error,
                               idempotency_key)
     VALUES ('test', $1, $2, now() - $3::interval, CASE WHEN $4::interval IS NULL THEN NULL ELSE gen_random_uuid() END,
             now() + $4::interval, $5, $6)
     RETURNING id`,
    queueValues(opts),
  );
  return Number(row.id);
}

export async function insertDiscoveryItem(
  q: Queryable,
  opts: QueueItemOptions & { interestId: number; categoryId?: number | null },
): Promise<number> {
  const row = await one<{ id: string }>(
    q,
    `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason, status, attempts, created_at,
                                              lease_token, lease_expires_at, last_error, idempotency_key)
     VALUES ($7, $8, 'test', $1, $2, now() - $3::interval,
             CASE WHEN $4::interval IS NULL THEN NULL ELSE gen_random_uuid() END, now() + $4::interval, $5, $6)
     RETURNING id`,
    [...queueValues(opts), opts.interestId, opts.categoryId ?? null],
  );
  return Number(row.id);
}

export async function insertIntentSignal(
  q: Queryable,
  opts: { userId: string; listingId: number; createdAgo?: string; kind?: string },
): Promise<number> {
  const row = await one<{ id: string }>(
    q,
    `INSERT INTO intent_signals (user_id, kind, listing_id, created_at)
     VALUES ($1, $2, $3, now() - $4::interval) RETURNING id`,
    [opts.userId, opts.kind ?? 'view', opts.listingId, opts.createdAgo ?? '0 seconds'],
  );
  return Number(row.id);
}

export async function insertLearningEvent(
  q: Queryable,
  opts: { userId: string | null; listingId: number; createdAgo?: string },
): Promise<string> {
  const row = await one<{ id: string }>(
    q,
    `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, created_at)
     VALUES ($1, $2, 'epsilon_greedy', 'SIMILAR', 0.5, 0, now() - $3::interval) RETURNING id`,
    [opts.userId, opts.listingId, opts.createdAgo ?? '0 seconds'],
  );
  return row.id;
}

export async function insertKernelSample(
  q: Queryable,
  opts: { kernel: string; durationMs: number; ok?: boolean; ago?: string },
): Promise<void> {
  await q.query(
    `INSERT INTO kernel_latency (kernel, duration_ms, ok, at) VALUES ($1, $2, $3, now() - $4::interval)`,
    [opts.kernel, opts.durationMs, opts.ok ?? true, opts.ago ?? '0 seconds'],
  );
}

/** Runs fn in a transaction on one owner connection and always rolls it back. */
export async function withRollback<T>(
  db: TestDatabase,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    return await fn(client);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

/**
 * Runs one statement under a savepoint so a failure leaves the transaction usable.
 * Resolves to the SQLSTATE of the error, or undefined if the statement succeeded.
 */
export async function sqlStateOf(
  client: Queryable,
  text: string,
  values: unknown[] = [],
): Promise<string | undefined> {
  await client.query('SAVEPOINT fixture_probe');
  try {
    await client.query(text, values);
    await client.query('RELEASE SAVEPOINT fixture_probe');
    return undefined;
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT fixture_probe');
    return (error as { code?: string }).code;
  }
}
