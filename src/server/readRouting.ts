import type { ApolloServerPlugin } from '@apollo/server';
import { OperationTypeNode } from 'graphql';
import type { Viewer } from '../auth/viewer.js';
import type { Context } from '../context.js';
import { coerceError } from '../errors/errors.js';
import type { Services } from '../services/services.js';

/**
 * Read replicas for GraphQL (docs/architecture.md#read-replicas). Once the operation is known and before
 * anything executes, a query's `ctx.reads` becomes a replica that has replayed the viewer's fence (their
 * last write's WAL position), if one has; a mutation (and anything else) reads from the primary. After
 * a viewer's mutation, or a query that wrote on the primary (a feed page's impressions), before the
 * response leaves, their fence is raised to the primary's WAL position, so their next query — on any
 * gateway — sees what it committed.
 *
 * Without replicas the plugin does nothing: every read is the primary's, as before.
 */
/** Whose fence a viewer reads and raises: a person's, or a service caller's; anonymous viewers have none. */
export function fenceKeyOf(viewer: Viewer): string | null {
  if (viewer.userId !== null) return viewer.userId;
  return viewer.role === 'service' ? `service:${viewer.subject}` : null;
}

export function readRoutingPlugin(
  services: Pick<Services, 'replicas' | 'readFences' | 'metrics' | 'logger'>,
): ApolloServerPlugin<Context> {
  const { replicas, readFences, metrics, logger } = services;
  if (replicas.size === 0) return {};
  return {
    requestDidStart: async () => ({
      didResolveOperation: async ({ operation, contextValue }) => {
        if (!operation) return;
        if (operation.operation !== OperationTypeNode.QUERY) {
          metrics.dbReads.inc({ target: 'primary', reason: 'mutation' });
          return;
        }
        const key = fenceKeyOf(contextValue.viewer);
        const fence = key ? await readFences.get(key) : null;
        if (fence === 'unknown') {
          metrics.dbReads.inc({ target: 'primary', reason: 'fence_unknown' });
          return;
        }
        const replica = replicas.pick(fence);
        if (!replica) {
          metrics.dbReads.inc({ target: 'primary', reason: fence === null ? 'no_replica' : 'own_write' });
          return;
        }
        metrics.dbReads.inc({ target: 'replica', reason: fence === null ? 'replica' : 'replayed_own_write' });
        contextValue.reads = replica;
      },
      willSendResponse: async ({ operation, contextValue }) => {
        const key = fenceKeyOf(contextValue.viewer);
        const wrote = operation?.operation === OperationTypeNode.MUTATION || contextValue.writes.primary;
        if (!key || !wrote) return;
        try {
          await readFences.raise(key, await replicas.currentLsn());
        } catch (error) {
          // The primary is unreachable: the mutation could not have committed anything new either.
          logger.warn({ err: coerceError(error) }, 'could not read the WAL position after a mutation');
        }
      },
    }),
  };
}
