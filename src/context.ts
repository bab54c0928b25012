import type { Viewer } from './auth/viewer.js';
import type { Config } from './config/config.js';
import type { Database } from './db/database.js';
import type { ScopedPrisma } from './db/identity.js';
import type { FeatureStore } from './features/featureStore.js';
import type { FlagStore } from './flags/flagStore.js';
import type { FeedSettings } from './feed/suggestions.js';
import type { RateLimits } from './social/rateLimits.js';
import type { Loaders } from './loaders/createLoaders.js';
import type { Logger } from './platform/logger.js';
import type { Metrics } from './platform/metrics.js';

/** Everything a resolver may use for one request. Built once per request; never shared. */
export interface Context {
  requestId: string;
  viewer: Viewer;
  logger: Logger;
  /** Prisma scoped to the viewer's RLS identity. */
  prisma: ScopedPrisma;
  db: Database;
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
}
