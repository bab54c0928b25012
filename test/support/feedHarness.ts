import { Writable } from 'node:stream';
import { graphql, type ExecutionResult } from 'graphql';
import { pino } from 'pino';
import type { Viewer } from '../../src/auth/viewer.js';
import type { Config } from '../../src/config/config.js';
import type { Context } from '../../src/context.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { scopedPrisma } from '../../src/db/identity.js';
import { createLoaders } from '../../src/loaders/createLoaders.js';
import { createFeedSettings } from '../../src/resolvers/feed.js';
import { createSchema } from '../../src/schema/index.js';
import { loggerOptions } from '../../src/server/logger.js';
import { createMetrics, type Metrics } from '../../src/server/metrics.js';
import type { TestDatabase } from './db.js';
import { dataOf } from './graphqlResult.js';
import { testConfig } from './gateway.js';

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/**
 * Like createInProcess (test/support/gateway.ts), but the metrics object is reachable and the logger
 * writes JSON lines into `logs` (level info) instead of stdout, so tests can assert both.
 */
export interface FeedHarness {
  config: Config;
  database: Database;
  metrics: Metrics;
  logs: LogLine[];
  execute: <T = Record<string, unknown>>(
    source: string,
    options?: { viewer?: Viewer; variables?: Record<string, unknown>; requestId?: string },
  ) => Promise<ExecutionResult<T>>;
  /** The value of lodestar_feed_fallback_total{reason}. */
  fallbackCount: (reason: string) => Promise<number>;
  close: () => Promise<void>;
}

export function createFeedHarness(
  db: Pick<TestDatabase, 'url'>,
  env: Record<string, string> = {},
): FeedHarness {
  const config = testConfig(db, { LOG_LEVEL: 'info', ...env });
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      }
      callback();
    },
  });
  const logger = pino(loggerOptions(config), sink);
  const database = createDatabase({ ...config.database, url: db.url }, () => undefined);
  const schema = createSchema();
  const metrics = createMetrics();
  const feed = createFeedSettings(config);
  let requests = 0;
  return {
    config,
    database,
    metrics,
    logs,
    execute: async <T>(
      source: string,
      options: { viewer?: Viewer; variables?: Record<string, unknown>; requestId?: string } = {},
    ) => {
      const viewer: Viewer = options.viewer ?? { role: 'anonymous', userId: null };
      requests += 1;
      const contextValue: Context = {
        requestId: options.requestId ?? `feed-test-${requests}`,
        viewer,
        logger,
        prisma: scopedPrisma(database.prisma, viewer),
        db: database,
        loaders: createLoaders(database.prisma),
        config,
        metrics,
        feed,
      };
      return (await graphql({
        schema,
        source,
        contextValue,
        variableValues: options.variables,
      })) as ExecutionResult<T>;
    },
    fallbackCount: async (reason) => {
      const metric = await metrics.feedFallbacks.get();
      return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
    },
    close: () => database.close(),
  };
}

export const SUGGESTIONS = `query ($first: Int, $after: String, $last: Int, $category: String) {
  suggestions(first: $first, after: $after, last: $last, category: $category) {
    edges { cursor node { listing { id category { id } } score source position impressionId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    fallback { reason source }
  }
}`;

export type Source = 'SIMILAR' | 'EXPLORE' | 'POPULAR' | 'RECENT' | 'GLOBAL';

export interface SuggestionNode {
  listing: { id: string; category: { id: string } };
  score: number;
  source: Source;
  position: number;
  impressionId: string;
}

export interface SuggestionsPage {
  edges: { cursor: string; node: SuggestionNode }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  fallback: { reason: string; source: Source } | null;
}

/** One suggestions page, asserting no errors. */
export async function suggestionsPage(
  h: Pick<FeedHarness, 'execute'>,
  viewer: Viewer | undefined,
  variables: Record<string, unknown>,
): Promise<SuggestionsPage> {
  return dataOf(await h.execute<{ suggestions: SuggestionsPage }>(SUGGESTIONS, { viewer, variables }))
    .suggestions;
}

export const listingIdsOf = (page: SuggestionsPage): number[] =>
  page.edges.map((e) => Number(e.node.listing.id));
export const categoryIdsOf = (page: SuggestionsPage): number[] =>
  page.edges.map((e) => Number(e.node.listing.category.id));
export const sourcesOf = (page: SuggestionsPage): Source[] => page.edges.map((e) => e.node.source);
