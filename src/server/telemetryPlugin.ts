import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type GraphQLSchema, type SelectionSetNode } from 'graphql';
import type { Context } from '../context.js';
import type { FlagStore } from '../flags/flagStore.js';
import { kernelOf, type Kernel } from '../ops/kernels.js';
import type { Telemetry } from '../ops/telemetry.js';
import type { Metrics } from '../platform/metrics.js';

/**
 * Errors that count against a kernel's or a flag's error rate: ours, not the caller's. A caller's
 * mistake that reached Postgres is already a 4xx code here (formatError, toClientError).
 */
export const serverErrorCodes: ReadonlySet<string> = new Set([
  'INTERNAL_SERVER_ERROR',
  'TIMEOUT',
  'UNAVAILABLE',
]);

function rootFieldNames(selectionSet: SelectionSetNode): string[] {
  return selectionSet.selections.flatMap((selection) => {
    if (selection.kind === Kind.FIELD) return [selection.name.value];
    if (selection.kind === Kind.INLINE_FRAGMENT) return rootFieldNames(selection.selectionSet);
    return [];
  });
}

/** Root fields guarded by the admin scope (Pothos keeps each field's options in its extensions). */
export function adminRootFields(schema: GraphQLSchema): Set<string> {
  const names = new Set<string>();
  for (const type of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      const options = field.extensions.pothosOptions as { authScopes?: unknown } | undefined;
      const scopes = options?.authScopes;
      if (scopes && typeof scopes === 'object' && 'admin' in scopes) names.add(field.name);
    }
  }
  return names;
}

/**
 * Per request, after the response is ready: one kernel latency sample (vw_kernel_slos) and, for a
 * signed-in viewer, the outcome counted towards every flag being rolled out with the viewer's variant.
 * Both only push to memory; the telemetry recorder writes them in batches.
 */
export function telemetryPlugin(deps: {
  telemetry: Telemetry;
  flags: FlagStore;
  metrics: Metrics;
  adminFields: ReadonlySet<string>;
}): ApolloServerPlugin<Context> {
  return {
    requestDidStart: async () => {
      const started = performance.now();
      let kernel: Kernel | undefined;
      return {
        didResolveOperation: async ({ operation }) => {
          if (!operation) return;
          kernel = kernelOf(operation.operation, rootFieldNames(operation.selectionSet), deps.adminFields);
        },
        willSendResponse: async ({ response, contextValue }) => {
          // Requests that never resolved to an operation (parse or validation failures) are no kernel run.
          if (!kernel) return;
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          const ok = !errors.some((e) => serverErrorCodes.has(String(e.extensions?.code)));
          const ms = performance.now() - started;
          deps.telemetry.recordKernel(kernel, ms, ok);
          const exposures = deps.flags.exposuresFor(contextValue.viewer.userId);
          deps.telemetry.recordExposures(exposures, ms, ok, contextValue.viewer.userId);
          for (const { flag, variant } of exposures) {
            deps.metrics.flagRequests.inc({ flag, variant, outcome: ok ? 'ok' : 'error' });
            deps.metrics.flagDuration.observe({ flag, variant }, ms / 1000);
          }
        },
      };
    },
  };
}
