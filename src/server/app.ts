import { randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify, {
  errorCodes,
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { TokenVerifier } from '../auth/verifyToken.js';
import type { Viewer } from '../auth/viewer.js';
import { createContext, type Context } from '../context.js';
import { UNAVAILABLE_RETRY_AFTER_SEC, type ErrorCode } from '../errors/errors.js';
import { createSchema } from '../schema/index.js';
import type { Services } from '../services/services.js';
import { createApollo } from './apollo.js';
import { registerAlertMetrics } from './alertMetrics.js';
import { createAuthenticate } from './authenticate.js';
import { sendGraphQLError } from './errorReply.js';
import { registerPrivacyExport } from './privacyExport.js';
import { registerTableBloatMetrics } from './tableBloatMetrics.js';
import { readiness } from './health.js';
import { registerConsole } from './console.js';
import { registerDemo } from './demo.js';
import { registerIde } from './ide.js';
import { annotateHttpSpan, inGraphQLSpan, traceCostlyResolvers } from './tracing.js';
import { loggerOptions } from '../platform/logger.js';

/** The viewer of each request, resolved once in preHandler before Apollo runs. */
const viewers = new WeakMap<FastifyRequest, Viewer>();

export interface AppOptions {
  verifyToken: TokenVerifier;
  /** Development: headers the IDE starts with (the demo user's bearer token). */
  ideHeaders?: Record<string, string> | undefined;
  /** Development: the seeded demo user's token, for the web feed page's "Sign in as @demo". */
  demoToken?: string | undefined;
  /** Development: the seeded admin's token, for the ops console's "Sign in as @admin". */
  demoAdminToken?: string | undefined;
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

function describeFastifyError(
  error: FastifyError,
  bodyLimit: number,
): { status: number; code: ErrorCode; message: string } {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        message: `the request body is larger than ${bodyLimit} bytes`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'BAD_REQUEST',
        message: 'unsupported Content-Type: send GraphQL requests as application/json',
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        code: 'BAD_REQUEST',
        message: 'the request body is empty; send a JSON GraphQL request',
      };
    default:
      if (error.statusCode === 400 && (error instanceof SyntaxError || /JSON/i.test(error.message))) {
        return {
          status: 400,
          code: 'BAD_REQUEST',
          message: `the request body is not valid JSON: ${error.message}`,
        };
      }
      if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        return { status: error.statusCode, code: 'BAD_REQUEST', message: error.message };
      }
      return { status: 500, code: 'INTERNAL_SERVER_ERROR', message: 'internal server error' };
  }
}

/**
 * The body limit of a caller who is not a verified service: the route accepts up to the service limit
 * (Fastify's parser takes one limit per route), so everyone else is held to BODY_LIMIT_BYTES here, by
 * Content-Length when given and by counting the bytes as they stream otherwise.
 */
function limitBody(request: FastifyRequest, payload: Readable, limit: number): Readable {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
  let received = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > limit) callback(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      else callback(null, chunk);
    },
  });
  payload.on('error', (error) => counted.destroy(error));
  return payload.pipe(counted);
}

/** The body limit that applies to a request: a verified service token's, or everyone else's. */
const bodyLimitOf = (
  request: FastifyRequest,
  limits: { bodyLimitBytes: number; serviceBodyLimitBytes: number },
) => (viewers.get(request)?.role === 'service' ? limits.serviceBodyLimitBytes : limits.bodyLimitBytes);

function viewerOf(request: FastifyRequest): Viewer {
  const viewer = viewers.get(request);
  if (!viewer) throw new Error('the viewer was not resolved before the GraphQL handler ran');
  return viewer;
}

/**
 * Builds the HTTP app on the process's services: /graphql, /privacy/export, /healthz, /readyz (and
 * /metrics outside production). Does not listen. Closing the app drains requests and stops Apollo; the
 * caller closes the services afterwards (`services.close()`).
 */
export async function createApp(services: Services, options: AppOptions): Promise<FastifyInstance> {
  const { config, db, redis, metrics, telemetry, flags, roles } = services;
  const authenticate = createAuthenticate({ verifyToken: options.verifyToken, roles, telemetry });
  const app = Fastify({
    logger: loggerOptions(config),
    // One access-log line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: (req) => {
      const header = req.headers['x-request-id'];
      return typeof header === 'string' && requestIdPattern.test(header) ? header : randomUUID();
    },
    // Fastify's own 503 while closing is a plain body; ours (below) is GraphQL-shaped with Retry-After.
    return503OnClosing: false,
    // request.ip (the per-client read budgets of anonymous callers) comes from X-Forwarded-For only
    // when the socket peer is a configured proxy (TRUSTED_PROXIES); otherwise it is the peer itself.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
  });

  // Draining (SIGTERM): from the moment close starts, requests still arriving on open keep-alive
  // connections get UNAVAILABLE in the GraphQL shape with Retry-After, and every response (in-flight
  // ones too) says `Connection: close`, so clients reconnect — to another instance — instead of reusing
  // a socket that is about to go away.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    if (config.tracing.enabled) annotateHttpSpan(request);
    if (draining) {
      return sendGraphQLError(
        reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SEC)),
        503,
        'UNAVAILABLE',
        'the server is shutting down; retry shortly',
        { retryAfterMs: UNAVAILABLE_RETRY_AFTER_SEC * 1000 },
      );
    }
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (draining) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status, code, message } = describeFastifyError(error, bodyLimitOf(request, config));
    if (status >= 500) request.log.error({ err: error, reqId: request.id }, 'request failed');
    if (code === 'PAYLOAD_TOO_LARGE') metrics.rejections.inc({ reason: 'body' });
    return sendGraphQLError(reply, status, code, message);
  });
  app.setNotFoundHandler((request, reply) =>
    sendGraphQLError(
      reply,
      404,
      'NOT_FOUND',
      `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`,
    ),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const report = await readiness(db, redis);
    metrics.redisUp.set(report.redis === 'up' ? 1 : 0);
    return reply.code(report.ready ? 200 : 503).send(report);
  });
  // Production serves metrics only on METRICS_PORT (src/server/gateway.ts): they show alert values
  // and traffic that the public API refuses to anonymous callers (docs/security.md).
  if (config.metrics.onPublicPort) {
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  registerAlertMetrics(metrics, db.pool, config.ops.alerts, services.logger, () =>
    services.replicas.status(),
  );
  registerTableBloatMetrics(metrics, db.pool, services.logger);
  const schema = createSchema();
  if (config.tracing.enabled) traceCostlyResolvers(schema, config.tracing.resolverMinCost);
  const apollo = createApollo(schema, config, {
    metrics,
    logger: services.logger,
    telemetry,
    flags,
    replicas: services.replicas,
    readFences: services.readFences,
    redis: services.redis,
  });
  await apollo.start();
  // Fastify's close stops accepting and waits for in-flight requests; only then does Apollo stop.
  app.addHook('onClose', async () => apollo.stop());

  const handler = fastifyApolloHandler<Context>(apollo, {
    context: async (request) =>
      createContext(services, {
        requestId: request.id,
        viewer: viewerOf(request),
        logger: request.log,
        idempotencyKey: headerValue(request.headers['idempotency-key']),
        clientAddress: request.ip,
      }),
  });

  // Tracing on: the whole of Apollo's work on a request inside the operation's span (src/server/tracing.ts).
  const graphqlHandler: typeof handler = config.tracing.enabled
    ? function (request, reply) {
        return inGraphQLSpan(request.id, () => handler.call(this, request, reply));
      }
    : handler;

  if (config.graphql.demoPage) {
    registerDemo(app, {
      path: '/demo',
      graphqlPath: '/graphql',
      demoToken: options.demoToken,
      logger: services.logger,
    });
  }
  if (config.graphql.consolePage) {
    registerConsole(app, {
      path: '/console',
      graphqlPath: '/graphql',
      demoAdminToken: options.demoAdminToken,
      logger: services.logger,
    });
  }
  if (config.graphql.ide) {
    await registerIde(app, { path: '/graphiql', graphqlPath: '/graphql', headers: options.ideHeaders });
  }

  app.route({
    method: ['GET', 'POST', 'OPTIONS'],
    url: '/graphql',
    // Service callers may send catalogue batches up to SERVICE_BODY_LIMIT_BYTES; preParsing holds
    // everyone else to BODY_LIMIT_BYTES.
    bodyLimit: config.serviceBodyLimitBytes,
    // The token is checked before the body is read (so the larger limit applies only to a verified
    // service token) and before Apollo runs: a bad token is a 401, never a silent anonymous request.
    onRequest: async (request, reply) => {
      const viewer = await authenticate(request, reply);
      if (!viewer) return reply;
      viewers.set(request, viewer);
    },
    preParsing: async (request, _reply, payload) =>
      viewers.get(request)?.role === 'service' ? payload : limitBody(request, payload, config.bodyLimitBytes),
    handler: graphqlHandler,
  });

  registerPrivacyExport(app, services, authenticate);

  return app;
}

/** One header value: absent or repeated headers count as none. */
function headerValue(value: string | string[] | undefined): string | null {
  return typeof value === 'string' ? value : null;
}
