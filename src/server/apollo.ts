import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { createComplexityRule } from '@pothos/plugin-complexity';
import { trace } from '@opentelemetry/api';
import {
  getVariableValues,
  GraphQLError,
  OperationTypeNode,
  validate,
  type DocumentNode,
  type GraphQLFormattedError,
  type OperationDefinitionNode,
  type GraphQLSchema,
} from 'graphql';
import type { Config } from '../config/config.js';
import type { Context } from '../context.js';
import { toClientError, toPublicDatabaseError } from '../errors/databaseErrors.js';
import { createError, publicErrorCodes, UNAVAILABLE_RETRY_AFTER_SEC } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { operationLabel, type Metrics } from '../platform/metrics.js';
import {
  createMaxAliasesRule,
  createMaxDepthRule,
  createMaxFieldsRule,
  rootResponseNames,
} from './protection.js';
import { adminRootFields, telemetryPlugin } from './telemetryPlugin.js';
import { textInputPlugin } from './textInputPlugin.js';
import { tracingPlugin } from './tracing.js';
import { readRoutingPlugin } from './readRouting.js';
import type { Services } from '../services/services.js';
import { createDocumentVerdicts } from './documentVerdicts.js';
import type { FlagStore } from '../flags/flagStore.js';
import type { Telemetry } from '../ops/telemetry.js';
import {
  cacheControlOf,
  createPersistedQueryCache,
  PUBLIC_VARY,
  loadTrustedDocuments,
  persistedQueryShapePlugin,
  trustedDocumentsPlugin,
} from './persistedOperations.js';

/** Codes Apollo itself assigns to request errors whose messages are safe to show. */
const apolloPublicCodes = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

function codeOf(error: GraphQLFormattedError | GraphQLError): string {
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}

/** True when the client may see this error's message as it is. */
function isPublic(formatted: GraphQLFormattedError, error: unknown): boolean {
  const original = unwrapResolverError(error);
  const code = codeOf(formatted);
  // A resolver error must be one we raised on purpose (a GraphQLError with one of our codes).
  if (original !== error || formatted.path) {
    return original instanceof GraphQLError && publicErrorCodes.has(code);
  }
  return publicErrorCodes.has(code) || apolloPublicCodes.has(code);
}

/**
 * Request errors Apollo raises without a code, for a caller's mistake in the persisted query protocol
 * (a hash that is not the document's, an unknown protocol version): BAD_REQUEST, their message kept.
 */
const apolloCodelessRequestErrors = new Set([
  'provided sha does not match query',
  'Unsupported persisted query version',
]);

/** graphql-js's "Did you mean …?" suggestions name schema members the caller did not ask about. */
const suggestionPattern = / ?Did you mean [^?]*\?/g;

export function stripSuggestions(message: string): string {
  return message.replace(suggestionPattern, '');
}

/**
 * Apollo labels every validation error GRAPHQL_VALIDATION_FAILED; a refusal of ours that carries a
 * public code of its own (QUERY_TOO_COMPLEX for too many fields) keeps it.
 */
function publicCodeOf(formatted: GraphQLFormattedError, error: unknown): string | undefined {
  if (codeOf(formatted) !== 'GRAPHQL_VALIDATION_FAILED' || !(error instanceof GraphQLError)) return undefined;
  const original = error.originalError;
  if (!(original instanceof GraphQLError)) return undefined;
  const code = original.extensions.code;
  return typeof code === 'string' && publicErrorCodes.has(code) ? code : undefined;
}

/**
 * Apollo passes resolver messages through unchanged even in production: everything that is not one of
 * our coded errors is replaced by a generic message (and logged with the request id elsewhere).
 * With `hideSuggestions` (production) no message keeps graphql-js's "Did you mean …?" suggestions.
 */
export function createFormatError(
  options: { hideSuggestions: boolean } = { hideSuggestions: false },
): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  const message = (text: string) => (options.hideSuggestions ? stripSuggestions(text) : text);
  return (formatted, error) => {
    const { locations, path } = formatted;
    if (!path && apolloCodelessRequestErrors.has(formatted.message)) {
      return { message: formatted.message, locations, extensions: { code: 'BAD_REQUEST' } };
    }
    if (isPublic(formatted, error)) {
      const { stacktrace: _stacktrace, http: _http, ...extensions } = formatted.extensions ?? {};
      const code = publicCodeOf(formatted, error);
      return {
        message: message(formatted.message),
        locations,
        path,
        extensions: code ? { ...extensions, code } : extensions,
      };
    }
    const mapped = toPublicDatabaseError(unwrapResolverError(error));
    if (mapped) {
      return { message: message(mapped.message), locations, path, extensions: mapped.extensions };
    }
    return {
      message: 'internal server error',
      locations,
      path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

/** The formatter without suggestion hiding (development). */
export const formatError = createFormatError();

function rejectionReason(error: GraphQLError): string | undefined {
  const reason = error.extensions.reason;
  if (typeof reason === 'string') return reason;
  if (error.extensions.code === 'GRAPHQL_PARSE_FAILED')
    return /tokens/.test(error.message) ? 'tokens' : 'parse';
  return undefined;
}

function metricsPlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  return {
    requestDidStart: async () => {
      const started = performance.now();
      return {
        didEncounterErrors: async ({ errors, contextValue, operationName }) => {
          for (const error of errors) {
            const reason = rejectionReason(error);
            if (reason) metrics.rejections.inc({ reason });
            const original = unwrapResolverError(error);
            const internal = !(original instanceof GraphQLError) || !publicErrorCodes.has(codeOf(original));
            // A database refusal the caller caused (formatError maps it to a 4xx code) is not our failure.
            if (internal && error.path && !toClientError(original)) {
              contextValue.logger.error(
                { err: original, path: error.path.join('.'), operation: operationName ?? null },
                'resolver failed',
              );
            }
          }
        },
        willSendResponse: async ({ response, operationName }) => {
          const operation = operationLabel(operationName);
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          for (const error of errors) metrics.errors.inc({ code: codeOf(error) });
          metrics.requests.inc({ operation, outcome: errors.length > 0 ? 'error' : 'ok' });
          metrics.requestDuration.observe({ operation }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}

/**
 * Every response is `Cache-Control: private, no-store`, except an anonymous GET query of public data,
 * which shared caches may keep for GRAPHQL_PUBLIC_MAX_AGE_SEC (cacheControlOf). UNAVAILABLE (Postgres away, a lost connection) tells
 * the client when to come back: a `Retry-After`
 * header, and HTTP 503 when nothing was served (no data at all), so proxies and clients that retry on
 * 503 do the right thing. Partial results keep the GraphQL convention of 200.
 */
function unavailablePlugin(publicMaxAgeSec: number): ApolloServerPlugin<Context> {
  return {
    requestDidStart: async () => ({
      willSendResponse: async (requestContext) => {
        const { response } = requestContext;
        // Ours, always (Apollo's own, on a persisted query miss, would let a browser keep the answer).
        const cacheControl = cacheControlOf(requestContext, publicMaxAgeSec);
        response.http.headers.set('cache-control', cacheControl);
        if (cacheControl.startsWith('public')) response.http.headers.set('vary', PUBLIC_VARY);
        if (response.body.kind !== 'single') return;
        const { errors, data } = response.body.singleResult;
        if (!errors?.some((error) => codeOf(error) === 'UNAVAILABLE')) return;
        response.http.headers.set('retry-after', String(UNAVAILABLE_RETRY_AFTER_SEC));
        if (data === null || data === undefined) response.http.status = 503;
      },
    }),
  };
}

/** What the cost check found: the operation's complexity (when it could be computed) and its refusal, if any. */
interface ComplexityVerdict {
  complexity?: number | undefined;
  error: (() => GraphQLError) | null;
}

/** Variable sets remembered per document (ids and handles vary per request; the verdict may not). */
const COMPLEXITY_VERDICTS_PER_DOCUMENT = 256;

/**
 * Cost limit, checked after the operation is known and before anything executes. The variables are
 * coerced first: a value of the wrong type or an unknown enum value is the caller's mistake
 * (BAD_USER_INPUT), not a cost problem.
 */
function complexityPlugin(maxComplexity: number, hideSuggestions: boolean): ApolloServerPlugin<Context> {
  const verdicts = createDocumentVerdicts<ComplexityVerdict>(COMPLEXITY_VERDICTS_PER_DOCUMENT);
  return {
    requestDidStart: async () => ({
      didResolveOperation: async ({ document, operation, operationName, request, contextValue, schema }) => {
        // No operation: execution reports the unknown or missing operation name.
        if (!operation) return;
        // The verdict depends on the document, the operation and the variables only (no complexity
        // function reads the context): the same request gets the same answer without a second walk.
        const key = `${operationName ?? ''}\n${JSON.stringify(request.variables ?? {})}`;
        const verdict = verdicts.get(document, key, () =>
          complexityVerdict({ document, operation, operationName, request, contextValue, schema }),
        );
        // The operation's cost on its trace span (tracing off: no span, nothing done).
        if (verdict.complexity !== undefined)
          trace.getActiveSpan()?.setAttribute('graphql.operation.complexity', verdict.complexity);
        // A fresh error each time: Apollo may annotate the one it is given.
        if (verdict.error) throw verdict.error();
      },
    }),
  };

  function complexityVerdict({
    document,
    operation,
    operationName,
    request,
    contextValue,
    schema,
  }: {
    document: DocumentNode;
    operation: OperationDefinitionNode;
    operationName: string | null;
    request: { variables?: Record<string, unknown> };
    contextValue: Context;
    schema: GraphQLSchema;
  }): ComplexityVerdict {
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], request.variables ?? {}, {
      hideSuggestions,
      maxErrors: 10,
    });
    if (coerced.errors) {
      const [first] = coerced.errors;
      return {
        error: () =>
          createError('BAD_USER_INPUT', first?.message ?? 'invalid variables', {
            http: { status: 400 },
          }),
      };
    }
    let complexity: number | undefined;
    const rule = createComplexityRule({
      context: contextValue,
      variableValues: request.variables ?? {},
      operationName: operationName ?? undefined,
      maxComplexity,
      onResult: (result) => {
        complexity = result.complexity;
      },
    });
    const [error] = validate(schema, document, [rule], { hideSuggestions });
    if (error) {
      return {
        complexity,
        error: () =>
          createError('QUERY_TOO_COMPLEX', `the query is too expensive: ${error.message}`, {
            reason: 'complexity',
          }),
      };
    }
    return { complexity, error: null };
  }
}

/**
 * One Idempotency-Key header names one write: a document with more than one mutation field under a
 * header key is refused before anything runs (otherwise the first field commits under the key and the
 * second is answered as a reuse of it). Fields may still carry their own `idempotencyKey` argument.
 */
function idempotencyHeaderPlugin(): ApolloServerPlugin<Context> {
  return {
    requestDidStart: async () => ({
      didResolveOperation: async ({ document, operation, contextValue }) => {
        if (
          !operation ||
          operation.operation !== OperationTypeNode.MUTATION ||
          contextValue.idempotencyKey === null
        )
          return;
        const fields = rootResponseNames(document, operation);
        if (fields.size > 1) {
          throw createError(
            'BAD_REQUEST',
            `an Idempotency-Key header covers exactly one mutation field, and this operation has ${fields.size}; ` +
              'send one mutation per request, or give each field its own idempotencyKey argument without the header',
            { reason: 'idempotency' },
          );
        }
      },
    }),
  };
}

export function createApollo(
  schema: GraphQLSchema,
  config: Config,
  deps: { metrics: Metrics; logger: Logger; telemetry: Telemetry; flags: FlagStore } & Pick<
    Services,
    'replicas' | 'readFences' | 'redis'
  >,
): ApolloServer<Context> {
  const { trustedDocuments } = config.graphql;
  return new ApolloServer<Context>({
    schema,
    introspection: config.graphql.introspection,
    hideSchemaDetailsFromClientErrors: !config.graphql.introspection,
    csrfPrevention: true,
    // Our process owns shutdown (Fastify drains first); Apollo's own handler would re-kill the process.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    // Automatic persisted queries, their map shared through Redis (docs/clients.md); off with trusted
    // documents, whose ids the manifest answers (trustedDocumentsPlugin).
    persistedQueries: trustedDocuments
      ? false
      : { cache: createPersistedQueryCache(deps.redis, deps.logger), ttl: config.graphql.apqTtlSec },
    parseOptions: { maxTokens: config.graphql.maxTokens },
    // Each of our rules walks the document once, memoising fragments: linear in the document's size.
    validationRules: [
      createMaxFieldsRule(config.graphql.maxFields),
      createMaxDepthRule(config.graphql.maxDepth),
      createMaxAliasesRule(config.graphql.maxAliases),
    ],
    validationOptions: { hideSuggestions: config.graphql.hideSuggestions },
    formatError: createFormatError({ hideSuggestions: config.graphql.hideSuggestions }),
    logger: deps.logger,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // First: in trusted-documents mode nothing else sees a document that is not in the manifest; with
      // APQ, nothing sees a malformed persisted-query extension.
      trustedDocuments
        ? trustedDocumentsPlugin(loadTrustedDocuments(trustedDocuments))
        : persistedQueryShapePlugin(),
      // Its per-field hook wraps every resolver; no field has a cache hint, so unavailablePlugin
      // sends the one header it would (no-store).
      ApolloServerPluginCacheControlDisabled(),
      metricsPlugin(deps.metrics),
      unavailablePlugin(config.graphql.publicMaxAgeSec),
      textInputPlugin(),
      idempotencyHeaderPlugin(),
      complexityPlugin(config.graphql.maxComplexity, config.graphql.hideSuggestions),
      // After the complexity check: a rejected operation costs no fence lookup.
      readRoutingPlugin(deps),
      ...(config.tracing.enabled ? [tracingPlugin()] : []),
      telemetryPlugin({
        telemetry: deps.telemetry,
        flags: deps.flags,
        metrics: deps.metrics,
        adminFields: adminRootFields(schema),
      }),
    ],
  });
}
