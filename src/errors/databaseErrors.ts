import type { GraphQLError } from 'graphql';
import { createTimeoutError, createUnavailableError } from './errors.js';

/** SQLSTATEs a client can act on; everything else stays an internal error. */
const QUERY_CANCELED = '57014';
const CONNECTION_CLASS = '08';
const CANNOT_CONNECT_NOW = '57P03';
const ADMIN_SHUTDOWN = '57P01';
/** Prisma's codes for "cannot reach", "timed out reaching" and "connection closed". */
const PRISMA_UNREACHABLE = new Set(['P1001', 'P1002', 'P1017']);
/** Driver-adapter error kinds for the same. */
const ADAPTER_UNREACHABLE = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);

type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null;

/**
 * The error and what it wraps: pg errors directly, or Prisma's client error whose
 * meta.driverAdapterError.cause carries the pg SQLSTATE as originalCode.
 */
function chain(error: unknown): Node[] {
  const nodes: Node[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && isNode(current); depth += 1) {
    nodes.push(current);
    const meta = current.meta;
    current = isNode(meta) && isNode(meta.driverAdapterError) ? meta.driverAdapterError : current.cause;
  }
  return nodes;
}

function sqlState(nodes: Node[]): string | undefined {
  for (const node of nodes) {
    if (typeof node.originalCode === 'string' && /^[0-9A-Z]{5}$/.test(node.originalCode))
      return node.originalCode;
    // Prisma's own errors have a `code` too (P2010…): only a plain driver error's code is a SQLSTATE.
    if (!('clientVersion' in node) && typeof node.code === 'string' && /^[0-9A-Z]{5}$/.test(node.code)) {
      return node.code;
    }
  }
  return undefined;
}

function isUnreachable(nodes: Node[]): boolean {
  return nodes.some(
    (node) =>
      (typeof node.code === 'string' && PRISMA_UNREACHABLE.has(node.code)) ||
      (typeof node.kind === 'string' && ADAPTER_UNREACHABLE.has(node.kind)) ||
      (typeof node.message === 'string' &&
        /ECONNREFUSED|ECONNRESET|ETIMEDOUT|Connection terminated|timeout exceeded when trying to connect|Can't reach database server/i.test(
          node.message,
        )),
  );
}

/** True for a statement cancelled by statement_timeout (or a cancel request). */
export const isStatementTimeout = (error: unknown): boolean => sqlState(chain(error)) === QUERY_CANCELED;

/**
 * Maps a database failure to the public error a client should see: a statement timeout is TIMEOUT,
 * an unreachable database is UNAVAILABLE. Returns undefined for everything else (masked as internal).
 */
export function toPublicDatabaseError(error: unknown): GraphQLError | undefined {
  const nodes = chain(error);
  const state = sqlState(nodes);
  if (state === QUERY_CANCELED) return createTimeoutError();
  if (
    state?.startsWith(CONNECTION_CLASS) ||
    state === CANNOT_CONNECT_NOW ||
    state === ADMIN_SHUTDOWN ||
    isUnreachable(nodes)
  ) {
    return createUnavailableError('the database is unavailable; try again shortly');
  }
  return undefined;
}
