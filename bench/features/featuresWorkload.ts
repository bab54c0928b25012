import { Redis } from 'ioredis';
import { listingFeatureKind, userFeatureKind } from '../../src/features/featureKinds.js';
import type { BeforeEach } from '../shared/load.js';
import { clientAddress, deleteKeysMatching } from '../shared/redisMonitor.js';

/**
 * What the features phase sends and how it controls the cache: the queries, the feed pages each
 * viewer gets, evicting exactly those keys before an "uncached" request, and the gateway's own
 * feature-cache counters (hits, misses, bypasses), read from /metrics between runs.
 */

/** The page size of the features phase. */
export const FEATURES_FIRST = 50;

const listingFields = 'likeCount commentCount popularity ageSeconds feedCtr30d';
const userFields = 'interestCount likesGiven likesReceived feedImpressions30d feedCtr30d';

/** Both feature kinds in one request: the viewer's own (one key) and every listing's on the page. */
export const featuresQuery = (first: number) =>
  `{ me { features { ${userFields} } } suggestions(first: ${first}) { edges { node { listing { id features { ${listingFields} } } } } } }`;

/** The same request without features: what the features add is the difference. */
export const noFeaturesQuery = (first: number) =>
  `{ me { id } suggestions(first: ${first}) { edges { node { listing { id } } } } }`;

const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

/** Response checks without a JSON.parse per request in the load process. */
export function checkFeatures(first: number) {
  return (text: string) => {
    const listings = occurrences(text, '"likeCount":');
    if (listings !== first || !text.includes('"interestCount":')) {
      throw new Error(`expected ${first} listings with features and the viewer's: ${text.slice(0, 200)}`);
    }
  };
}

export function checkNoFeatures(first: number) {
  return (text: string) => {
    const listings = occurrences(text, '"listing":');
    if (listings !== first)
      throw new Error(`expected ${first} listings, got ${listings}: ${text.slice(0, 200)}`);
  };
}

/** The listing ids of a features response, in page order. */
export function pageOf(text: string): number[] {
  const body = JSON.parse(text) as {
    data?: { suggestions?: { edges?: { node: { listing: { id: string } } }[] } };
  };
  return (body.data?.suggestions?.edges ?? []).map((edge) => Number(edge.node.listing.id));
}

/**
 * The cache keys one request of viewer `index` reads: theirs and their page's listings'. Keys come
 * from the gateway's own FeatureKind.keyOf, so a schema version bump cannot leave the bench evicting
 * keys nobody reads.
 */
export function keysOf(viewer: string, page: readonly number[]): string[] {
  return [userFeatureKind.keyOf(viewer), ...page.map((id) => listingFeatureKind.keyOf(id))];
}

export interface Evictor {
  /** Deletes, before request `index`, every key it will read (viewer index % viewers). */
  beforeEach: BeforeEach;
  /** Keys found and deleted per eviction since the last call (all of a page's 51 when it was cached). */
  takeEvicted: () => { evictions: number; keysDeleted: number; keysAsked: number };
  /** Redis's address for this connection, so a command count can leave its DELs out. */
  address: () => Promise<string>;
  close: () => void;
}

export function createEvictor(
  url: string,
  prefix: string,
  viewers: readonly string[],
  pages: readonly (readonly number[])[],
): Evictor {
  // keyPrefix as the gateway has it, so DEL takes the same key names the gateway's code builds.
  const redis = new Redis(url, { keyPrefix: prefix, maxRetriesPerRequest: 1 });
  let evicted = { evictions: 0, keysDeleted: 0, keysAsked: 0 };
  return {
    beforeEach: async (index) => {
      const i = index % viewers.length;
      const keys = keysOf(viewers[i] ?? '', pages[i] ?? []);
      const deleted = await redis.del(...keys);
      evicted.evictions += 1;
      evicted.keysDeleted += deleted;
      evicted.keysAsked += keys.length;
    },
    takeEvicted: () => {
      const taken = evicted;
      evicted = { evictions: 0, keysDeleted: 0, keysAsked: 0 };
      return taken;
    },
    address: () => clientAddress(redis),
    close: () => redis.disconnect(),
  };
}

/** Deletes every feature key under the bench prefix (a cold start); returns how many there were. */
export function flushFeatureKeys(url: string, prefix: string): Promise<number> {
  return deleteKeysMatching(url, `${prefix}feat:*`);
}

/** Feature-cache outcomes by kind, from the gateway's counters. */
export interface CacheOutcome {
  lookups: Record<'listing' | 'user', { hit: number; miss: number; bypass: number }>;
  computed: Record<'listing' | 'user', number>;
  /** Failed Redis commands by operation (mget, write, invalidate). */
  errors: Record<string, number>;
}

type Counters = Map<string, number>;

/** The `lodestar_feature_*_total` series of the gateway's /metrics (its METRICS_PORT), keyed `name|label=value,…`. */
export async function readFeatureCounters(metricsUrl: string): Promise<Counters> {
  const text = await (await fetch(metricsUrl)).text();
  const counters: Counters = new Map();
  for (const match of text.matchAll(/^(lodestar_feature_\w+_total)\{([^}]*)\} (\S+)$/gm)) {
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => `${l[1]}=${l[2]}`).sort();
    counters.set(`${match[1]}|${labels.join(',')}`, Number(match[3]));
  }
  return counters;
}

/** What happened between two readings. */
export function outcomeBetween(before: Counters, after: Counters): CacheOutcome {
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const lookups = (kind: string, result: string) =>
    delta(`lodestar_feature_cache_lookups_total|kind=${kind},result=${result}`);
  const kinds = (kind: 'listing' | 'user') => ({
    hit: lookups(kind, 'hit'),
    miss: lookups(kind, 'miss'),
    bypass: lookups(kind, 'bypass'),
  });
  const errors: Record<string, number> = {};
  for (const key of after.keys()) {
    const op = /^lodestar_feature_cache_errors_total\|op=(\w+)$/.exec(key)?.[1];
    if (op && delta(key) > 0) errors[op] = delta(key);
  }
  return {
    lookups: { listing: kinds('listing'), user: kinds('user') },
    computed: {
      listing: delta('lodestar_feature_computed_total|kind=listing'),
      user: delta('lodestar_feature_computed_total|kind=user'),
    },
    errors,
  };
}

/** Sums outcomes (the slices of one interleaved run). */
export function addOutcomes(a: CacheOutcome, b: CacheOutcome): CacheOutcome {
  const kinds = (k: 'listing' | 'user') => ({
    hit: a.lookups[k].hit + b.lookups[k].hit,
    miss: a.lookups[k].miss + b.lookups[k].miss,
    bypass: a.lookups[k].bypass + b.lookups[k].bypass,
  });
  const errors = { ...a.errors };
  for (const [op, n] of Object.entries(b.errors)) errors[op] = (errors[op] ?? 0) + n;
  return {
    lookups: { listing: kinds('listing'), user: kinds('user') },
    computed: { listing: a.computed.listing + b.computed.listing, user: a.computed.user + b.computed.user },
    errors,
  };
}

export const emptyOutcome = (): CacheOutcome => ({
  lookups: { listing: { hit: 0, miss: 0, bypass: 0 }, user: { hit: 0, miss: 0, bypass: 0 } },
  computed: { listing: 0, user: 0 },
  errors: {},
});
