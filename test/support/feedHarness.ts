import type { Viewer } from '../../src/auth/viewer.js';
import type { TestDatabase } from './db.js';
import { dataOf } from './graphqlResult.js';
import { graphql, type ResultOf } from './graphql.js';
import { createInProcess, type InProcess, type LogLine } from './gateway.js';

export type { LogLine };

/** The in-process harness with its logs captured (level info), plus the feed's fallback counter. */
export interface FeedHarness extends InProcess {
  /** The value of lodestar_feed_fallback_total{reason}. */
  fallbackCount: (reason: string) => Promise<number>;
}

export function createFeedHarness(
  db: Pick<TestDatabase, 'url'>,
  env: Record<string, string> = {},
): FeedHarness {
  const inProcess = createInProcess(db, { LOG_LEVEL: 'info', ...env }, { captureLogs: true });
  return {
    ...inProcess,
    fallbackCount: async (reason) => {
      const metric = await inProcess.metrics.feedFallbacks.get();
      return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
    },
  };
}

export const SUGGESTIONS = graphql(`
  query ($first: Int, $after: String, $last: Int, $category: String) {
    suggestions(first: $first, after: $after, last: $last, category: $category) {
      edges {
        cursor
        node {
          listing {
            id
            category {
              id
            }
          }
          score
          source
          position
          impressionId
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      fallback {
        reason
        source
      }
    }
  }
`);

export type SuggestionsPage = ResultOf<typeof SUGGESTIONS>['suggestions'];
export type Source = SuggestionsPage['edges'][number]['node']['source'];

/** One suggestions page, asserting no errors. */
export async function suggestionsPage(
  h: Pick<FeedHarness, 'execute'>,
  viewer: Viewer | undefined,
  variables: Record<string, unknown>,
): Promise<SuggestionsPage> {
  return dataOf(await h.execute(SUGGESTIONS, { viewer, variables })).suggestions;
}

/** The check of a viewer's kept candidates (keptExclusionsSql, inside insertCheckedImpressionsSql). */
export const KEPT_CANDIDATES_CHECK = /FROM unnest\(\$10::int\[\]\) AS k\(id\)/;

export const listingIdsOf = (page: SuggestionsPage): number[] =>
  page.edges.map((e) => Number(e.node.listing.id));
export const categoryIdsOf = (page: SuggestionsPage): number[] =>
  page.edges.map((e) => Number(e.node.listing.category.id));
export const sourcesOf = (page: SuggestionsPage): Source[] => page.edges.map((e) => e.node.source);
