import type { GraphQLError } from 'graphql';
import { createError, createTimeoutError, createUnavailableError, type ErrorCode } from './errors.js';

/** SQLSTATEs a client can act on; everything else stays an internal error. */
const QUERY_CANCELED = '57014';
const LOCK_NOT_AVAILABLE = '55P03';
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

/** True when a lock could not be had: lock_timeout ran out, or NOWAIT found it taken. */
export const isLockNotAvailable = (error: unknown): boolean => sqlState(chain(error)) === LOCK_NOT_AVAILABLE;

/**
 * True for a statement a hot-standby replica cancelled because replay needed what it was reading
 * (40001/40P01 "… conflict with recovery"): the same read runs fine on the primary.
 */
export function isRecoveryConflict(error: unknown): boolean {
  const nodes = chain(error);
  const state = sqlState(nodes);
  return (
    (state === '40001' || state === '40P01') &&
    nodes.some((node) => typeof node.message === 'string' && /conflict with recovery/i.test(node.message))
  );
}

/** True when a pool could not hand out a client in time (pg-pool's acquire timeout): busy or unreachable. */
export const isPoolAcquireTimeout = (error: unknown): boolean =>
  chain(error).some(
    (node) =>
      typeof node.message === 'string' && /timeout exceeded when trying to connect/i.test(node.message),
  );

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
 * The statement failed because of what the caller sent, not because of us: the value or the reference
 * is wrong, and the same request will fail again. Each maps to a 4xx-style code with a message that
 * names the problem but never the schema (constraint and table names stay in the logs).
 */
const CLIENT_STATES: Record<string, { code: ErrorCode; message: string }> = {
  // Class 22, data exception: a value Postgres cannot take as given.
  '22001': { code: 'BAD_USER_INPUT', message: 'a value is too long' },
  '22003': { code: 'BAD_USER_INPUT', message: 'a number is out of range' },
  '22007': { code: 'BAD_USER_INPUT', message: 'a date or time is not valid' },
  '22008': { code: 'BAD_USER_INPUT', message: 'a date or time is out of range' },
  '22019': { code: 'BAD_USER_INPUT', message: 'a pattern has an invalid escape character' },
  '22021': { code: 'BAD_USER_INPUT', message: 'a text value holds a character that cannot be stored' },
  '22023': { code: 'BAD_USER_INPUT', message: 'a value is not valid here' },
  '22025': { code: 'BAD_USER_INPUT', message: 'a pattern has an invalid escape sequence' },
  '2201B': { code: 'BAD_USER_INPUT', message: 'a pattern is not a valid regular expression' },
  '22P02': { code: 'BAD_USER_INPUT', message: 'a value has the wrong format' },
  '22P05': { code: 'BAD_USER_INPUT', message: 'a text value holds a character that cannot be stored' },
  // Class 23, integrity constraint violation (23503 and 23505 are refined below).
  '23503': { code: 'BAD_USER_INPUT', message: 'the request refers to something that does not exist' },
  '23505': { code: 'BAD_USER_INPUT', message: 'this conflicts with something that already exists' },
  '23514': { code: 'BAD_USER_INPUT', message: 'a value is not allowed here' },
  '23P01': { code: 'BAD_USER_INPUT', message: 'this conflicts with something that already exists' },
  // 54000 program limit: an index row or a tsvector too large for a caller-supplied value.
  '54000': { code: 'BAD_USER_INPUT', message: 'a value is too large' },
};

/**
 * Columns that hold the caller's own identity (RLS makes every user write use the caller's id there):
 * a foreign-key miss on one of them means the token's user does not exist (deleted, or never did).
 */
const IDENTITY_FK = /(^|[^a-z])(user_id|follower_id|seller_id)([^a-z]|$)/;

/**
 * What a constraint error says about where it happened, raw pg (constraint, detail "Key (col)=(…)",
 * column) or through Prisma's adapter (constraint: { index } or { fields }).
 */
function constraintParts(nodes: Node[]): string[] {
  const parts: string[] = [];
  for (const node of nodes) {
    for (const value of [node.constraint, node.detail, node.column]) {
      if (typeof value === 'string') parts.push(value);
      else if (isNode(value)) {
        if (typeof value.index === 'string') parts.push(value.index);
        if (Array.isArray(value.fields)) parts.push(`Key (${value.fields.map(String).join(', ')})`);
      }
    }
  }
  return parts;
}

/** Permission errors that are the caller's: an RLS policy or one of our guards said no. */
const RLS_REFUSAL = /row-level security|only an admin may/i;

/**
 * Maps an error the caller caused (bad value, missing reference, duplicate, refused by a row policy)
 * to a typed 4xx-style error; undefined for everything else. A missing grant ("permission denied for
 * table") is our misconfiguration and stays internal; so do serialization failures and deadlocks.
 */
export function toClientError(error: unknown): GraphQLError | undefined {
  const nodes = chain(error);
  const state = sqlState(nodes);
  if (state === undefined) return undefined;
  if (state === '42501') {
    const messages = nodes.map((n) => [n.message, n.originalMessage].join(' ')).join(' ');
    return RLS_REFUSAL.test(messages)
      ? createError('FORBIDDEN', 'you are not allowed to do this')
      : undefined;
  }
  const mapped = CLIENT_STATES[state];
  if (!mapped) return undefined;
  const where = constraintParts(nodes).join(' ');
  if (state === '23503' && IDENTITY_FK.test(where)) {
    return createError('UNAUTHENTICATED', 'the account of this token does not exist');
  }
  // A duplicate generated id is our sequence's fault, not the caller's.
  if (state === '23505' && /Key \(id\)/.test(where)) return undefined;
  return createError(mapped.code, mapped.message);
}

/** Maps a lost or unreachable database (UNAVAILABLE) or a statement timeout (TIMEOUT); undefined otherwise. */
export function toOutageError(error: unknown): GraphQLError | undefined {
  if (isStatementTimeout(error)) return createTimeoutError();
  if (isConnectionError(error))
    return createUnavailableError('the database is unavailable; try again shortly');
  return undefined;
}

/**
 * Maps a database failure to the public error a client should see: a statement timeout is TIMEOUT,
 * an unreachable database or lost connection is UNAVAILABLE (with Retry-After), and a failure the
 * caller caused is BAD_USER_INPUT, UNAUTHENTICATED or FORBIDDEN (toClientError). Returns undefined for
 * everything else (masked as internal; only those count as server errors in kernel and flag stats).
 */
export function toPublicDatabaseError(error: unknown): GraphQLError | undefined {
  return toOutageError(error) ?? toClientError(error);
}
