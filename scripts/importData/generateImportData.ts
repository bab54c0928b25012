import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { createRng, type Rng } from '../../src/db/seed/createRng.js';

/**
 * A synthetic marketplace in the importer's file formats (issue 15 item 3, issue 16's shape), drawn from
 * a seeded latent-factor model so the history has real signal: categories have centroids in a small
 * taste space, items sit near the centroids of their 1–6 categories plus a taste of their own, users
 * near their 1–3 favourite categories plus their own, drifting over the period; an interaction is a
 * popularity-weighted (Zipf) draw accepted with probability sigmoid(β · taste·item − α), so popularity
 * is long-tailed and who likes what follows the tastes. Listing and interest embeddings are a fixed
 * random projection of the latent vectors to `dim` floats plus noise. Same options, same bytes.
 */

export interface ImportDataOptions {
  out: string;
  seed: number;
  users: number;
  items: number;
  /** likes + views + follows, exactly. */
  interactions: number;
  categories: number;
  interestsPerCategory: number;
  months: number;
  /** Listing and interest embeddings; off = a catalogue without a model of its own. */
  embeddings: boolean;
  dim: number;
  /** The last moment of the history (ISO). */
  end: string;
}

/** issue 16's shape: ~1k users, ~1.7k items, ~100k interactions over 7 months, 19 categories. */
export const ISSUE16_PRESET: Omit<ImportDataOptions, 'out'> = {
  seed: 16,
  users: 1000,
  items: 1700,
  interactions: 100_000,
  categories: 19,
  interestsPerCategory: 3,
  months: 7,
  embeddings: true,
  dim: 384,
  end: '2026-11-30T00:00:00.000Z',
};

/** Interactions per user and items per user of the preset: sizes follow --interactions when not given. */
export const INTERACTIONS_PER_USER = 100;
export const ITEMS_PER_USER = 1.7;

export interface ImportDataCounts {
  categories: number;
  users: number;
  interests: number;
  listings: number;
  userInterests: number;
  likes: number;
  views: number;
  follows: number;
}

const RANK = 16;
/** Shares of the interactions: the rest are views. */
const LIKE_SHARE = 0.5;
const FOLLOW_SHARE = 0.05;
const MEDIAN_POSITIVES = 40;
/** Spread of the lognormal activity: with the shares normalised to the total, the median user lands near 40 likes. */
const ACTIVITY_SIGMA = 0.65;
const ACCEPT_BETA = 6;
const ACCEPT_ALPHA = 1.5;
const DAY_MS = 86_400_000;

type Vec = Float64Array;

const normalize = (v: Vec): Vec => {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
};
const dot = (a: Vec, b: Vec): number => {
  let s = 0;
  for (let i = 0; i < a.length; i += 1) s += a[i]! * b[i]!;
  return s;
};
const gaussianVec = (rng: Rng, n: number): Vec => Float64Array.from({ length: n }, () => rng.gaussian());
const mix = (parts: [Vec, number][]): Vec => {
  const out = new Float64Array(RANK);
  for (const [v, w] of parts) for (let i = 0; i < RANK; i += 1) out[i]! += w * v[i]!;
  return normalize(out);
};

/** Draws an index with probability proportional to its weight (binary search over the prefix sums). */
function sampler(weights: readonly number[]): (rng: Rng) => number {
  const prefix = new Float64Array(weights.length);
  let total = 0;
  weights.forEach((w, i) => {
    total += w;
    prefix[i] = total;
  });
  return (rng) => {
    const x = rng.next() * total;
    let lo = 0;
    let hi = prefix.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (prefix[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

const zipf = (n: number, offset: number, s = 1): number[] =>
  Array.from({ length: n }, (_, rank) => 1 / Math.pow(rank + 1 + offset, s));

/** A random permutation of 0..n-1. */
function permutation(rng: Rng, n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i -= 1) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Lines to a file with back-pressure, buffered into ~64 KB writes. */
class LineSink {
  private readonly stream: WriteStream;
  private buffer: string[] = [];
  private size = 0;
  rows = 0;
  constructor(file: string) {
    this.stream = createWriteStream(file);
  }
  async write(line: string): Promise<void> {
    this.buffer.push(line);
    this.size += line.length + 1;
    this.rows += 1;
    if (this.size >= 65_536) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join('\n') + '\n';
    this.buffer = [];
    this.size = 0;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }
  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
  }
}

/** RFC 4180: quoted when it holds a comma, quote or line break. */
const csv = (value: string | number): string => {
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

const WORDS = [
  'vintage',
  'compact',
  'classic',
  'modern',
  'rare',
  'handmade',
  'sturdy',
  'light',
  'smart',
  'retro',
];
const NOUNS = ['lamp', 'jacket', 'camera', 'chair', 'guitar', 'bike', 'watch', 'board', 'bag', 'print'];

/** Writes the six files to `options.out` and returns how many rows of each it wrote. */
export async function generateImportData(options: ImportDataOptions): Promise<ImportDataCounts> {
  const o = options;
  mkdirSync(o.out, { recursive: true });
  const rng = (stream: string) => createRng(o.seed, stream);
  const endMs = Date.parse(o.end);
  const spanMs = o.months * 30 * DAY_MS;
  const startMs = endMs - spanMs;
  const iso = (ms: number) => new Date(Math.round(ms)).toISOString();

  // Taste space and the projection to embeddings.
  const r0 = rng('model');
  const centroids = Array.from({ length: o.categories }, () => normalize(gaussianVec(r0, RANK)));
  const projection = Array.from({ length: o.dim }, () => gaussianVec(r0, RANK));
  const embed = (v: Vec, noise: Rng, spread: number): string => {
    const e = projection.map((row) => dot(row, v) + spread * noise.gaussian());
    const n = Math.sqrt(e.reduce((s, x) => s + x * x, 0)) || 1;
    return `[${e.map((x) => (x / n).toFixed(6)).join(',')}]`;
  };
  const categorySlug = (k: number) => `cat-${String(k + 1).padStart(2, '0')}`;
  const categorySize = sampler(zipf(o.categories, 3, 0.8));

  // categories.csv
  const categories = new LineSink(path.join(o.out, 'categories.csv'));
  await categories.write('slug,name');
  for (let k = 0; k < o.categories; k += 1)
    await categories.write(`${categorySlug(k)},${csv(`Category ${k + 1}`)}`);
  await categories.close();

  // interests.ndjson
  const interests = new LineSink(path.join(o.out, 'interests.ndjson'));
  const ri = rng('interests');
  for (let k = 0; k < o.categories; k += 1) {
    for (let j = 0; j < o.interestsPerCategory; j += 1) {
      const slug = `${categorySlug(k)}-i${j + 1}`;
      const row: Record<string, unknown> = {
        externalId: `int-${k + 1}-${j + 1}`,
        slug,
        name: `Interest ${k + 1}.${j + 1}`,
        category: categorySlug(k),
      };
      const v = mix([
        [centroids[k]!, 1],
        [normalize(gaussianVec(ri, RANK)), 0.4],
      ]);
      if (o.embeddings) row.embedding = JSON.parse(embed(v, ri, 0.05)) as number[];
      await interests.write(JSON.stringify(row));
    }
  }
  await interests.close();

  // Users: favourite categories, taste, drift, creation time, activity.
  const ru = rng('users');
  const userTaste: Vec[] = [];
  const userDrift: Vec[] = [];
  const userFavs: number[][] = [];
  const userCreated: number[] = [];
  const users = new LineSink(path.join(o.out, 'users.ndjson'));
  for (let u = 0; u < o.users; u += 1) {
    const favs = [...new Set(Array.from({ length: ru.int(1, 3) }, () => categorySize(ru)))];
    userFavs.push(favs);
    userTaste.push(
      mix([
        ...favs.map((k, i): [Vec, number] => [centroids[k]!, 1 / (i + 1)]),
        [normalize(gaussianVec(ru, RANK)), 0.8],
      ]),
    );
    userDrift.push(normalize(gaussianVec(ru, RANK)));
    const created = startMs - 30 * DAY_MS + ru.next() ** 2 * (spanMs * 0.6);
    userCreated.push(created);
    const n = String(u + 1).padStart(6, '0');
    await users.write(
      JSON.stringify({
        externalId: `u-${n}`,
        handle: `user_${n}`,
        displayName: `User ${u + 1}`,
        createdAt: iso(created),
      }),
    );
  }
  await users.close();

  // user-interests.csv: interests in the favourite categories, affinity by rank.
  const userInterests = new LineSink(path.join(o.out, 'user-interests.csv'));
  await userInterests.write('user,interest,affinity,createdAt');
  for (let u = 0; u < o.users; u += 1) {
    const favs = userFavs[u]!;
    for (const [rank, k] of favs.entries()) {
      const picks = new Set(Array.from({ length: ru.int(1, 2) }, () => ru.int(1, o.interestsPerCategory)));
      for (const j of picks) {
        const affinity = Math.min(1, 0.3 + 0.7 / (rank + 1) - 0.05 * ru.next()).toFixed(3);
        await userInterests.write(
          `u-${String(u + 1).padStart(6, '0')},int-${k + 1}-${j},${affinity},${iso(userCreated[u]!)}`,
        );
      }
    }
  }
  await userInterests.close();

  // Listings: 1–6 categories (the first is the primary, the one our schema keeps), taste, popularity.
  const rl = rng('listings');
  const itemTaste: Vec[] = [];
  const itemCreated: number[] = [];
  const listings = new LineSink(path.join(o.out, 'listings.ndjson'));
  const categoryCount = sampler([0.35, 0.25, 0.15, 0.1, 0.08, 0.07]);
  const sellerOf = sampler(zipf(o.users, 5));
  for (let i = 0; i < o.items; i += 1) {
    const cats = [...new Set(Array.from({ length: 1 + categoryCount(rl) }, () => categorySize(rl)))];
    const v = mix([
      ...cats.map((k, n): [Vec, number] => [centroids[k]!, n === 0 ? 1 : 0.5]),
      [normalize(gaussianVec(rl, RANK)), 0.9],
    ]);
    itemTaste.push(v);
    const created = startMs - 60 * DAY_MS + rl.next() * (spanMs * 0.85);
    itemCreated.push(created);
    const status = rl.chance(0.05) ? (rl.chance(0.6) ? 'sold' : 'inactive') : 'active';
    const row: Record<string, unknown> = {
      externalId: `l-${String(i + 1).padStart(7, '0')}`,
      title: `${rl.pick(WORDS)} ${rl.pick(NOUNS)} ${i + 1}`,
      description: `A ${rl.pick(WORDS)} ${rl.pick(NOUNS)} in good condition.`,
      price: (5 + Math.round(rl.next() ** 2 * 50_000) / 100).toFixed(2),
      currency: rl.chance(0.8) ? 'USD' : 'EUR',
      category: categorySlug(cats[0]!),
    };
    if (rl.chance(0.4)) row.sellerExternalId = `u-${String(sellerOf(rl) + 1).padStart(6, '0')}`;
    row.status = status;
    if (o.embeddings) row.embedding = JSON.parse(embed(v, rl, 0.02)) as number[];
    row.createdAt = iso(created);
    await listings.write(JSON.stringify(row));
  }
  await listings.close();

  // How many likes, follows and views each user gets (lognormal activity, median ~MEDIAN_POSITIVES).
  const ra = rng('activity');
  const activity = Array.from({ length: o.users }, () =>
    Math.exp(Math.log(MEDIAN_POSITIVES) + ACTIVITY_SIGMA * ra.gaussian()),
  );
  const totalActivity = activity.reduce((s, a) => s + a, 0);
  const share = (total: number, cap: number) => {
    const out = activity.map((a) => Math.min(cap, Math.floor((a / totalActivity) * total)));
    // Hand the rounding remainder to users below the cap, most active first.
    let left = total - out.reduce((s, n) => s + n, 0);
    for (let u = 0; left > 0 && u < o.users * 4; u += 1) {
      const i = u % o.users;
      if (out[i]! < cap) {
        out[i]! += 1;
        left -= 1;
      }
    }
    return out;
  };
  const likeCount = share(Math.round(o.interactions * LIKE_SHARE), Math.floor(o.items * 0.6));
  const followCount = share(Math.round(o.interactions * FOLLOW_SHARE), Math.max(0, o.users - 1));
  const likesTotal = likeCount.reduce((s, n) => s + n, 0);
  const followsTotal = followCount.reduce((s, n) => s + n, 0);
  const viewCount = share(o.interactions - likesTotal - followsTotal, Number.MAX_SAFE_INTEGER);

  // interactions.csv: each user's rows in time order.
  const popularity = sampler(zipf(o.items, 10, 1.05));
  const itemAtRank = permutation(rng('popularity'), o.items);
  const rx = rng('interactions');
  const interactions = new LineSink(path.join(o.out, 'interactions.csv'));
  await interactions.write('user,type,target,createdAt,weight');
  const counts = { likes: 0, views: 0, follows: 0 };
  /** A taste-accepted draw for user u at time fraction f, not in `exclude`. */
  const draw = (u: number, f: number, exclude: Set<number> | null): number => {
    const taste = mix([
      [userTaste[u]!, 1],
      [userDrift[u]!, 0.6 * f],
    ]);
    for (let tries = 0; ; tries += 1) {
      const item = itemAtRank[popularity(rx)]!;
      if (exclude?.has(item)) continue;
      const p = 1 / (1 + Math.exp(-(ACCEPT_BETA * dot(taste, itemTaste[item]!) - ACCEPT_ALPHA)));
      if (tries >= 200 || rx.next() < p) return item;
    }
  };
  const listingId = (i: number) => `l-${String(i + 1).padStart(7, '0')}`;
  for (let u = 0; u < o.users; u += 1) {
    const user = `u-${String(u + 1).padStart(6, '0')}`;
    const from = Math.max(startMs, userCreated[u]!);
    const rows: { t: number; line: string }[] = [];
    const liked = new Set<number>();
    for (let n = 0; n < likeCount[u]!; n += 1) {
      const f = rx.next();
      const item = draw(u, f, liked);
      liked.add(item);
      const t = Math.max(from + f * (endMs - from), itemCreated[item]! + DAY_MS * rx.next());
      rows.push({ t, line: `${user},like,${listingId(item)},${iso(Math.min(t, endMs))},` });
    }
    for (let n = 0; n < viewCount[u]!; n += 1) {
      const f = rx.next();
      const item = draw(u, f, null);
      const t = Math.max(from + f * (endMs - from), itemCreated[item]! + DAY_MS * rx.next());
      const weight = (0.2 + 0.8 * rx.next()).toFixed(2);
      rows.push({ t, line: `${user},view,${listingId(item)},${iso(Math.min(t, endMs))},${weight}` });
    }
    const followed = new Set<number>([u]);
    for (let n = 0; n < followCount[u]!; n += 1) {
      let other = sellerOf(rx);
      for (let tries = 0; followed.has(other) && tries < 50; tries += 1) other = sellerOf(rx);
      while (followed.has(other)) other = (other + 1) % o.users;
      followed.add(other);
      const t = from + rx.next() * (endMs - from);
      rows.push({ t, line: `${user},follow,u-${String(other + 1).padStart(6, '0')},${iso(t)},` });
    }
    rows.sort((a, b) => a.t - b.t);
    for (const row of rows) await interactions.write(row.line);
    counts.likes += likeCount[u]!;
    counts.views += viewCount[u]!;
    counts.follows += followCount[u]!;
  }
  await interactions.close();

  return {
    categories: o.categories,
    users: o.users,
    interests: o.categories * o.interestsPerCategory,
    listings: o.items,
    userInterests: userInterests.rows - 1,
    ...counts,
  };
}
