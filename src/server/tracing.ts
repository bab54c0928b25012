import type { ApolloServerPlugin } from '@apollo/server';
import type { FastifyRequest } from 'fastify';
import {
  defaultFieldResolver,
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import type { Context } from '../context.js';
import { trace } from '@opentelemetry/api';
import { failSpan, inSpan, SpanKind, tracer } from '../platform/tracing.js';
import { serverErrorCodes } from './telemetryPlugin.js';

/** The complexity plugin's default list multiplier (src/builder.ts). */
const DEFAULT_LIST_MULTIPLIER = 10;

/**
 * The HTTP server span (instrumentation-http's) named after the route, `POST /graphql`, with the
 * request id, so a trace is found from a log line or an `x-request-id` and the other way round.
 */
export function annotateHttpSpan(request: FastifyRequest): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  const route = request.routeOptions.url;
  span.setAttribute('lodestar.request_id', request.id);
  if (route) {
    span.setAttribute('http.route', route);
    span.updateName(`${request.method} ${route}`);
  }
}

/**
 * The GraphQL route's handler inside a span that is active for everything Apollo does with the request
 * (parse, validation, execution): every resolver's SQL and Redis spans nest under it. It starts as
 * `graphql` and is named after the operation once it is known (tracingPlugin).
 */
export function inGraphQLSpan<T>(requestId: string, work: () => T | Promise<T>): Promise<T> {
  return inSpan('graphql', { 'lodestar.request_id': requestId }, async () => work());
}

/**
 * Names the operation span `query Feed` (the OpenTelemetry GraphQL convention) with its type, name and
 * cost, and marks it failed when the response carries a server-side error code (the codes that count
 * against a kernel's error rate, telemetryPlugin's).
 */
export function tracingPlugin(): ApolloServerPlugin<Context> {
  return {
    requestDidStart: async () => {
      const span = trace.getActiveSpan();
      if (!span) return;
      return {
        didResolveOperation: async ({ operation, operationName }) => {
          if (!operation) return;
          const name = operationName ?? operation.name?.value;
          span.updateName(name ? `${operation.operation} ${name}` : operation.operation);
          span.setAttribute('graphql.operation.type', operation.operation);
          if (name) span.setAttribute('graphql.operation.name', name);
        },
        willSendResponse: async ({ response }) => {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          if (errors.length === 0) return;
          const codes = [
            ...new Set(
              errors.map((e) => {
                const code = e.extensions?.code;
                return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
              }),
            ),
          ];
          span.setAttribute('graphql.error.codes', codes);
          const serverError = errors.find((e) => serverErrorCodes.has(String(e.extensions?.code)));
          if (serverError) failSpan(span, new Error(serverError.message));
        },
      };
    },
  };
}

type ComplexityOption =
  | number
  | { field?: number; multiplier?: number }
  | ((
      args: Record<string, unknown>,
      ctx: unknown,
      field: unknown,
    ) => number | { field?: number; multiplier?: number });

function isList(type: GraphQLOutputType): boolean {
  return isNonNullType(type) ? isList(type.ofType) : isListType(type);
}

/**
 * A resolver's cost in the complexity model's own numbers: its field weight (default 1) times its page
 * size (its multiplier; 10 for a list without one), so a feed or a 20-row page costs far more than
 * a scalar. Static costs are known at start; a cost that depends on the arguments is computed per call.
 */
function costOf(
  field: GraphQLField<unknown, unknown>,
): number | ((args: Record<string, unknown>, ctx: unknown) => number) {
  const option = field.extensions.complexity as ComplexityOption | undefined;
  const list = isList(field.type);
  const fromValue = (value: Exclude<ComplexityOption, (...a: never[]) => unknown> | undefined): number => {
    if (typeof value === 'number') return value;
    const weight = value?.field ?? 1;
    const multiplier = value?.multiplier ?? (list ? DEFAULT_LIST_MULTIPLIER : 1);
    return weight * Math.max(multiplier, 1);
  };
  if (typeof option === 'function') return (args, ctx) => fromValue(option(args, ctx, field));
  return fromValue(option);
}

/**
 * Gives every resolver whose cost reaches `minCost` a span of its own (`resolve Query.suggestions`),
 * active while it runs, so the statements it sends nest under it. Cheaper fields are not wrapped at
 * all: the operation span covers them. Changes `schema` in place (each app builds its own).
 */
export function traceCostlyResolvers(schema: GraphQLSchema, minCost: number): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const cost = costOf(field);
      if (typeof cost === 'number' && cost < minCost) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      const name = `resolve ${type.name}.${field.name}`;
      const resultType = getNamedType(field.type).name;
      field.resolve = (source, args: Record<string, unknown>, ctx, info) => {
        const fieldCost = typeof cost === 'number' ? cost : cost(args, ctx);
        if (fieldCost < minCost) return resolve(source, args, ctx, info);
        return tracer.startActiveSpan(
          name,
          {
            kind: SpanKind.INTERNAL,
            attributes: {
              'graphql.field.name': field.name,
              'graphql.field.type': resultType,
              'graphql.field.path': pathOf(info.path),
              'lodestar.cost': fieldCost,
            },
          },
          (span) => {
            try {
              const result: unknown = resolve(source, args, ctx, info);
              if (isPromiseLike(result)) {
                return Promise.resolve(result).then(
                  (value) => {
                    span.end();
                    return value;
                  },
                  (error: unknown) => {
                    failSpan(span, error);
                    span.end();
                    throw error;
                  },
                );
              }
              span.end();
              return result;
            } catch (error) {
              failSpan(span, error);
              span.end();
              throw error;
            }
          },
        );
      };
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function pathOf(path: { prev: unknown; key: string | number } | undefined): string {
  const keys: (string | number)[] = [];
  for (let at = path; at; at = at.prev as typeof path) keys.push(at.key);
  return keys.reverse().join('.');
}
