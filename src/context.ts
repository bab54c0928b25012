import type { Viewer } from './auth/viewer.js';
import type { Config } from './config/config.js';
import type { Database } from './db/database.js';
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
  /** Prisma scoped to the viewer's RLS identity. */
  prisma: ScopedPrisma;
  db: Database;
  /** Per-request batching and caching of reads (one statement per level). */
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
type LazyPrisma = Pick<Context, 'db' | 'viewer'> & { [SCOPED]?: ScopedPrisma };

/**
 * `prisma` is made on first use: a signed-in viewer's is a client extension, which most requests (the
 * feed's raw statements, the listings page) never touch. The getter sits on the prototype because Apollo
 * copies the context's own properties into a new object with the same prototype: an own getter would be
 * called by the copy, a prototype one still only when a resolver asks.
 */
const contextPrototype = {
  get prisma(): ScopedPrisma {
    const self = this as unknown as LazyPrisma;
    return (self[SCOPED] ??= scopedPrisma(self.db.prisma, self.viewer));
  },
};

/** The one way a Context is made: by the HTTP layer, the in-process test executor and the bench alike. */
export function createContext(services: Services, request: RequestInfo): Context {
  const { db, config, metrics, feed, rateLimits, flags, features, queueWakeups } = services;
  const fields: Omit<Context, 'prisma'> = {
    requestId: request.requestId,
    viewer: request.viewer,
    logger: request.logger ?? services.logger,
    db,
    loaders: createLoaders(db.prisma, features, { pool: db.pool, viewer: request.viewer }),
    config,
    metrics,
    feed,
    rateLimits,
    flags,
    features,
    queueWakeups,
    idempotencyKey: request.idempotencyKey ?? null,
    clientAddress: request.clientAddress ?? null,
  };
  return Object.assign(Object.create(contextPrototype) as Context, fields);
}
