import type { GraphQLError } from 'graphql';
import { createTimeoutError, createUnavailableError } from './errors.js';

/** SQLSTATEs a client can act on; everything else stays an internal error. */
const QUERY_CANCELED = '57014';
/**
 * The server is going away or not there yet: class 08 (connection exception), 57P01 admin shutdown
 * (also `pg_ctl -m fast/immediate`), 57P02 crash shutdown, 57P03 cannot connect now (starting up,
 * shutting down, recovery), 53300 too many connections.
 */
const CONNECTION_CLASS = '08';
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** Prisma's codes for "cannot reach", "timed out reaching", "socket timeout", "connection closed", "too many connections". */
const PRISMA_UNREACHABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2037']);
/** Driver-adapter error kinds for the same. */
const ADAPTER_UNREACHABLE = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);
/** Node socket error codes: the server is unreachable or the connection died. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/**
 * Messages of node-postgres, pg-pool and Prisma for a lost or unobtainable connection (they carry no
 * code): a dead socket, a client whose connection already failed, a pool that could not hand out a
 * client in time, Prisma's "Can't reach database server".
 */
const UNREACHABLE_MESSAGE = new RegExp(
  [
    'ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH',
    'Connection terminated',
    'connection error and is not queryable',
    'Client was closed and is not queryable',
    'timeout exceeded when trying to connect',
    'timeout expired when trying to connect',
    "Can't reach database server",
    'Server has closed the connection',
    'terminating connection due to (administrator command|immediate shutdown)',
    'the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)',
  ].join('|'),
  'i',
);

type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null;

/**
 * The error and everything it wraps: pg errors directly, Prisma's client error whose
 * meta.driverAdapterError.cause carries the pg SQLSTATE as originalCode, `cause` chains, and the
 * attempts of an AggregateError (Node tries each address of a host name). Bounded: at most 24 nodes.
 */
function chain(error: unknown): Node[] {
  const nodes: Node[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && nodes.length < 24) {
    const current = queue.shift();
    if (!isNode(current) || nodes.includes(current)) continue;
    nodes.push(current);
    const meta = current.meta;
    if (isNode(meta) && isNode(meta.driverAdapterError)) queue.push(meta.driverAdapterError);
    if (isNode(current.cause)) queue.push(current.cause);
    if (Array.isArray(current.errors)) queue.push(...(current.errors as unknown[]).slice(0, 8));
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
      (typeof node.code === 'string' && (PRISMA_UNREACHABLE.has(node.code) || SOCKET_CODES.has(node.code))) ||
      (typeof node.kind === 'string' && ADAPTER_UNREACHABLE.has(node.kind)) ||
      (typeof node.message === 'string' && UNREACHABLE_MESSAGE.test(node.message)) ||
      (typeof node.originalMessage === 'string' && UNREACHABLE_MESSAGE.test(node.originalMessage)),
  );
}

/** True for a statement cancelled by statement_timeout (or a cancel request). */
export const isStatementTimeout = (error: unknown): boolean => sqlState(chain(error)) === QUERY_CANCELED;

/**
 * True when the error means the database could not be reached or the connection was lost — a problem
 * of the service, not of the request, which a retry a little later may not have. Raw pg errors,
 * pg-pool timeouts, socket errors and Prisma's wrapped forms alike.
 */
export function isConnectionError(error: unknown): boolean {
  const nodes = chain(error);
  const state = sqlState(nodes);
  if (state === QUERY_CANCELED) return false;
  return (
    (state !== undefined && (state.startsWith(CONNECTION_CLASS) || UNAVAILABLE_STATES.has(state))) ||
    isUnreachable(nodes)
  );
}

/**
 * Maps a database failure to the public error a client should see: a statement timeout is TIMEOUT,
 * an unreachable database or lost connection is UNAVAILABLE (with Retry-After). Returns undefined for
 * everything else (masked as internal).
 */
export function toPublicDatabaseError(error: unknown): GraphQLError | undefined {
  if (isStatementTimeout(error)) return createTimeoutError();
  if (isConnectionError(error))
    return createUnavailableError('the database is unavailable; try again shortly');
  return undefined;
}
