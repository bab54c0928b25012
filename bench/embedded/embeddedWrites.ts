import { createSfc32 } from '../../src/random/createSfc32.js';
import { summarize, type LatencySummary } from '../shared/load.js';

/**
 * The "worker busy" load: an open-loop stream of social writes (a fixed rate, whatever their latency)
 * from users who are not feed viewers. Each enqueues an event the in-process worker then handles on
 * the gateway's one connection: likes bump popularity and reinforce interests (which recompute the
 * profile embedding or queue a debounced recompute), added interests queue discovery, follows and
 * signals complete their item.
 */

type Post = (body: string, token: string) => Promise<string>;

const LIKE = 'mutation($id: ID!) { likeListing(listingId: $id) { changed } }';
const UNLIKE = 'mutation($id: ID!) { unlikeListing(listingId: $id) { changed } }';
const FOLLOW = 'mutation($id: ID!) { follow(userId: $id) { __typename } }';
const UNFOLLOW = 'mutation($id: ID!) { unfollow(userId: $id) { __typename } }';
const ADD_INTEREST = 'mutation($id: ID!) { addInterest(interestId: $id) { __typename } }';
const REMOVE_INTEREST = 'mutation($id: ID!) { removeInterest(interestId: $id) { __typename } }';
const VIEW = 'mutation($id: ID!) { recordSignal(kind: VIEW, listingId: $id) { __typename } }';

/** Per 20 writes: mostly likes (the heaviest handler), then views, follows and interest changes. */
const MIX = [
  ['like', 8],
  ['unlike', 2],
  ['view', 4],
  ['follow', 3],
  ['interest', 3],
] as const;
type Kind = (typeof MIX)[number][0];
const SLOTS: Kind[] = MIX.flatMap(([kind, n]) => Array.from({ length: n }, () => kind));

export interface WriteStats {
  ratePerSec: number;
  sent: number;
  errors: number;
  firstError: string | null;
  byKind: Record<string, number>;
  latencyMs: LatencySummary;
}

interface Writer {
  id: string;
  token: string;
  liked: number[];
  followed: string[];
  added: number[];
}

export function createWriteStream(
  post: Post,
  data: {
    writers: { id: string; token: string }[];
    listings: number[];
    interests: number[];
    users: string[];
  },
  seed: number,
) {
  const next32 = createSfc32(seed, 0x9e3779b9, 0x85ebca6b, 0xc2b2ae35);
  const random = () => next32() / 2 ** 32;
  const pick = <T>(items: readonly T[]): T => {
    const item = items[Math.floor(random() * items.length)];
    if (item === undefined) throw new Error('nothing to pick from');
    return item;
  };
  const writers: Writer[] = data.writers.map((w) => ({ ...w, liked: [], followed: [], added: [] }));
  let next = 0;

  /** One write: the query and its variables for the next writer, updating what that writer holds. */
  const plan = (): { kind: string; query: string; id: string | number; writer: Writer } => {
    const writer = writers[next++ % writers.length];
    if (!writer) throw new Error('no writers');
    const kind = pick(SLOTS);
    if (kind === 'unlike' && writer.liked.length > 0) {
      return { kind, query: UNLIKE, id: writer.liked.shift() ?? 0, writer };
    }
    if (kind === 'follow') {
      // Alternates: a writer follows up to 3 users, then unfollows the oldest.
      if (writer.followed.length >= 3)
        return { kind: 'unfollow', query: UNFOLLOW, id: writer.followed.shift() ?? '', writer };
      const user = pick(data.users.filter((u) => u !== writer.id && !writer.followed.includes(u)));
      writer.followed.push(user);
      return { kind, query: FOLLOW, id: user, writer };
    }
    if (kind === 'interest') {
      // Adds up to 2 interests of its own, then removes the oldest: the interest count stays bounded.
      if (writer.added.length >= 2) {
        return { kind: 'removeInterest', query: REMOVE_INTEREST, id: writer.added.shift() ?? 0, writer };
      }
      const interest = pick(data.interests);
      writer.added.push(interest);
      return { kind: 'addInterest', query: ADD_INTEREST, id: interest, writer };
    }
    if (kind === 'view') return { kind, query: VIEW, id: pick(data.listings), writer };
    const listing = pick(data.listings);
    writer.liked.push(listing);
    return { kind: 'like', query: LIKE, id: listing, writer };
  };

  let timer: NodeJS.Timeout | undefined;
  let stats: {
    sent: number;
    errors: number;
    firstError: string | null;
    byKind: Record<string, number>;
    latencies: number[];
  };
  let inflight: Promise<void>[] = [];
  let rate = 0;

  const fire = () => {
    const { kind, query, id, writer } = plan();
    stats.sent += 1;
    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
    const t0 = performance.now();
    const done = post(JSON.stringify({ query, variables: { id: String(id) } }), writer.token).then((text) => {
      stats.latencies.push(performance.now() - t0);
      if (text.includes('"errors"')) throw new Error(`GraphQL errors (${kind}): ${text.slice(0, 300)}`);
    });
    inflight.push(
      done.catch((error: unknown) => {
        stats.errors += 1;
        stats.firstError ??= error instanceof Error ? error.message : String(error);
      }),
    );
  };

  return {
    /** Starts sending `ratePerSec` writes a second, evenly spaced. */
    start(ratePerSec: number): void {
      rate = ratePerSec;
      stats = { sent: 0, errors: 0, firstError: null, byKind: {}, latencies: [] };
      inflight = [];
      const began = performance.now();
      // Catches up after a late timer, so the rate holds even when the event loop is busy.
      timer = setInterval(() => {
        const due = Math.floor(((performance.now() - began) / 1000) * rate);
        while (stats.sent < due) fire();
      }, 10);
    },
    /** Stops sending; resolves once the writes in flight answered. */
    async stop(): Promise<WriteStats> {
      clearInterval(timer);
      await Promise.all(inflight);
      const { sent, errors, firstError, byKind, latencies } = stats;
      return { ratePerSec: rate, sent, errors, firstError, byKind, latencyMs: summarize(latencies) };
    },
  };
}
