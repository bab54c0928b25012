import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { GraphQLError } from 'graphql';
import { actorOf } from '../auth/actor.js';
import type { UserViewer } from '../auth/viewer.js';
import { toOutageError } from '../errors/databaseErrors.js';
import {
  coerceError,
  createBadUserInputError,
  createForbiddenError,
  createNotFoundError,
  createUnauthenticatedError,
  createUnavailableError,
} from '../errors/errors.js';
import { recordedArms } from '../experiments/recordedArms.js';
import { userFeatureKind } from '../features/featureKinds.js';
import { readCachedFeatures } from '../features/featureStore.js';
import { recordAudit } from '../ops/audit.js';
import {
  readExportProfile,
  streamUserExport,
  type ExportSources,
  type ExportSummary,
} from '../privacy/userExport.js';
import type { Services } from '../services/services.js';
import { isUuid } from '../validation/isUuid.js';
import type { Authenticate } from './authenticate.js';
import { sendGraphQLError, sendPublicError } from './errorReply.js';

export const PRIVACY_EXPORT_PATH = '/privacy/export';

/** The ops_audit action of an admin's export of someone else's data. */
/** An admin's export of someone else: one row before any data leaves, one when it ends. */
const AUDIT_ACTION = 'exportUserData';
const AUDIT_END_ACTION = 'exportUserDataEnd';

/**
 * Whose data a signed-in viewer asks for (`?userId=`, default their own) and whether they may have it;
 * an error to send otherwise. Only an admin exports someone else's.
 */
function targetOf(viewer: UserViewer, query: unknown): { userId: string } | { refusal: GraphQLError } {
  const requested = (query as Record<string, unknown> | undefined)?.userId;
  if (requested === undefined) return { userId: viewer.userId };
  if (typeof requested !== 'string' || !isUuid(requested)) {
    return { refusal: createBadUserInputError('userId must be one user id (a uuid)', 'userId') };
  }
  const userId = requested.toLowerCase();
  if (userId !== viewer.userId && viewer.role !== 'admin') {
    return { refusal: createForbiddenError("only an admin may export another person's data") };
  }
  return { userId };
}

/**
 * GET /privacy/export: everything Lodestar holds about a person as NDJSON, streamed
 * (docs/privacy.md#export). A person exports their own data; an admin may pass `?userId=` to export
 * someone else's, which is recorded in ops_audit. The checks that cost nothing come first (token,
 * target, permission), then the budget (the person's `export` budget, an admin's `admin` budget for
 * someone else), then the profile (404); only then are headers sent and the body streamed.
 */
export function registerPrivacyExport(
  app: FastifyInstance,
  services: Services,
  authenticate: Authenticate,
): void {
  const { db, redis, rateLimits } = services;
  const sources: ExportSources = {
    cachedFeatures: (userId) => readCachedFeatures(redis, userFeatureKind, userId),
    experimentArms: (userId) => recordedArms(db.pool, redis, userId),
    rateLimits: (userId) => rateLimits.status(userId),
  };

  // No HEAD route: it would spend the budget and read the profile for nothing.
  app.get(PRIVACY_EXPORT_PATH, { exposeHeadRoute: false }, async (request, reply) => {
    const viewer = await authenticate(request, reply);
    if (!viewer) return reply;
    if (viewer.role === 'anonymous') {
      return sendPublicError(
        reply.header('www-authenticate', 'Bearer'),
        createUnauthenticatedError('sign in to export your data: send your bearer token'),
      );
    }
    if (viewer.role === 'service') {
      return sendPublicError(reply, createForbiddenError("a service token cannot export a person's data"));
    }
    const target = targetOf(viewer, request.query);
    if ('refusal' in target) return sendPublicError(reply, target.refusal);
    const { userId } = target;
    const forSomeoneElse = userId !== viewer.userId;

    let profile: Awaited<ReturnType<typeof readExportProfile>>;
    try {
      await rateLimits.consume(forSomeoneElse ? 'admin' : 'export', viewer.userId);
      profile = await readExportProfile(db.pool, viewer, userId);
    } catch (error) {
      const known = error instanceof GraphQLError ? error : toOutageError(error);
      if (known) return sendPublicError(reply, known);
      request.log.error({ err: coerceError(error), reqId: request.id }, 'privacy export could not start');
      return sendGraphQLError(reply, 500, 'INTERNAL_SERVER_ERROR', 'internal server error');
    }
    if (!profile) return sendPublicError(reply, createNotFoundError('user', userId));

    const actor = actorOf({ viewer, requestId: request.id });
    let auditId: string | null = null;
    if (forSomeoneElse) {
      // Recorded before the first byte: an export that reaches a client is always in the audit log, even
      // when the gateway dies half-way. No audit row, no export.
      try {
        auditId = await recordAudit(db.pool, actor, {
          action: AUDIT_ACTION,
          args: { userId },
          result: null,
          ok: true,
          durationMs: 0,
        });
      } catch (error) {
        request.log.error(
          { err: coerceError(error), reqId: request.id },
          'privacy export could not be audited',
        );
        return sendPublicError(
          reply,
          toOutageError(error) ??
            createUnavailableError('the export could not be recorded in the audit log; try again shortly'),
        );
      }
    }

    const started = performance.now();
    const onEnd = async (summary: ExportSummary) => {
      const durationMs = performance.now() - started;
      request.log.info(
        { userId, by: viewer.userId, ok: summary.ok, counts: summary.counts, ms: Math.round(durationMs) },
        'privacy export',
      );
      if (!forSomeoneElse) return;
      await recordAudit(db.pool, actor, {
        action: AUDIT_END_ACTION,
        args: { userId, auditId },
        result: { counts: summary.counts, unavailable: summary.unavailable },
        ok: summary.ok,
        ...(summary.error === undefined ? {} : { error: summary.error }),
        durationMs,
      });
    };
    const body = Readable.from(
      streamUserExport(
        { pool: db.pool, sources, logger: request.log },
        { profile, reader: viewer, requestId: request.id, onEnd },
      ),
      { objectMode: false },
    );
    return reply
      .code(200)
      .type('application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="lodestar-export-${userId}.ndjson"`)
      .header('cache-control', 'private, no-store')
      .send(body);
  });
}
