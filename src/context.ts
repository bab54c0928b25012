import type { RoleResolver } from './auth/effectiveRole.js';
import type { Viewer } from './auth/viewer.js';
import type { Config } from './config/config.js';
import type { Database } from './db/database.js';
import type { ReadRouting } from './db/replicas.js';
import { scopedPrisma, type ScopedPrisma } from './db/identity.js';
import type { FeatureStore } from './features/featureStore.js';
import type { FlagStore } from './flags/flagStore.js';
import type { FeedSettings } from './feed/suggestions.js';
import type { RateLimits } from './social/rateLimits.js';
import { createLoaders, type Loaders } from './loaders/createLoaders.js';
import type { Logger } from './platform/logger.js';
import type { Metrics } from './platform/metrics.js';
import type { QueueWakeups } from './queue/wakeups.js';
import type { Services } from './services/services.js';

/**
 * Everything a resolver may use for one request: the process's services (src/services/services.ts)
 * plus what belongs to this request. Built by `createContext`, once per request; never shared.
 */
export interface Context {
  requestId: string;
  viewer: Viewer;
  /** The request's logger (carries the request id). */
  logger: Logger;
  /** Prisma scoped to the viewer's RLS identity, on `reads`. */
  prisma: ScopedPrisma;
  /** The primary: every write, and reads that must see them. */
  db: Database;
  /**
   * Where this request's reads go: `db`, or for a query a read replica that has replayed the viewer's
   * own last write (chosen before execution by src/server/readRouting.ts). Nothing may write through it.
   */
  reads: Database;
  /** The read replicas and their monitor (DATABASE_READ_URLS; none: `reads` is always `db`). */
  replicas: ReadRouting;
  /**
   * Set by a query that writes on the primary (a feed page's impressions): like a mutation, it raises the
   * viewer's read fence, so their next page does not read from a replica that lacks it.
   */
  writes: { primary: boolean };
  /** Per-request batching and caching of reads (one statement per level), on `reads`. */
  loaders: Loaders;
  config: Config;
  metrics: Metrics;
  /** Feed policy and cursor key, built once per process. */
  feed: FeedSettings;
  /** Per-user write limits shared through Redis, one per process. */
  rateLimits: RateLimits;
  /**
   * The client's address for per-client read budgets of anonymous callers (the socket peer, or
   * X-Forwarded-For behind TRUSTED_PROXIES); absent outside HTTP.
   */
  clientAddress?: string | null;
  /** The request's Idempotency-Key header, if any (a mutation's idempotencyKey argument wins). */
  idempotencyKey: string | null;
  /** Feature flags of this process (re-read every FLAGS_REFRESH_SEC; at once after a change here). */
  flags: FlagStore;
  /** The Redis-backed feature store, one per process (read through `loaders`; writes invalidate here). */
  features: FeatureStore;
  /** Tells this process's in-process worker (if any) that a write enqueued work. */
  queueWakeups: Pick<QueueWakeups, 'enqueued'>;
  /** The process's role cache: an account being erased is forgotten at once. */
  roles: Pick<RoleResolver, 'forget'>;
}

/** What one request brings: who asks, its id and logger, and its headers that matter. */
export interface RequestInfo {
  requestId: string;
  viewer: Viewer;
  /** @default the services' logger */
  logger?: Logger;
  idempotencyKey?: string | null;
  clientAddress?: string | null;
}

const SCOPED = Symbol('scopedPrisma');
const LOADERS = Symbol('loaders');
type Lazy = Pick<Context, 'reads' | 'viewer' | 'features'> & {
  [SCOPED]?: ScopedPrisma;
  [LOADERS]?: Loaders;
};

/**
 * `prisma` and `loaders` are made on first use, on the request's `reads` (known only once the operation
 * is: a query may read from a replica). A signed-in viewer's prisma is a client extension, which most
 * requests (the feed's raw statements, the listings page) never touch. The getters sit on the prototype
 * because Apollo copies the context's own properties into a new object with the same prototype: an own
 * getter would be called by the copy, a prototype one still only when a resolver asks.
 */
const contextPrototype = {
  get prisma(): ScopedPrisma {
    const self = this as unknown as Lazy;
    return (self[SCOPED] ??= scopedPrisma(self.reads.prisma, self.viewer));
  },
  get loaders(): Loaders {
    const self = this as unknown as Lazy;
    return (self[LOADERS] ??= createLoaders(self.reads.prisma, self.features, {
      pool: self.reads.pool,
      viewer: self.viewer,
      service: self.reads.service,
    }));
  },
};

/** The one way a Context is made: by the HTTP layer, the in-process test executor and the bench alike. */
export function createContext(services: Services, request: RequestInfo): Context {
  const { db, config, metrics, feed, rateLimits, flags, features, queueWakeups, replicas, roles } = services;
  const fields: Omit<Context, 'prisma' | 'loaders'> = {
    requestId: request.requestId,
    viewer: request.viewer,
    logger: request.logger ?? services.logger,
    db,
    reads: db,
    replicas,
    writes: { primary: false },
    config,
    metrics,
    feed,
    rateLimits,
    flags,
    features,
    queueWakeups,
    roles,
    idempotencyKey: request.idempotencyKey ?? null,
    clientAddress: request.clientAddress ?? null,
  };
  return Object.assign(Object.create(contextPrototype) as Context, fields);
}
