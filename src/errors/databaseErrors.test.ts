import { describe, expect, it } from 'vitest';
import { Prisma } from '../generated/prisma/client.js';
import {
  isConnectionError,
  isStatementTimeout,
  toClientError,
  toOutageError,
  toPublicDatabaseError,
} from './databaseErrors.js';

const clientVersion = '7.0.0';

/** A pg DatabaseError as node-postgres builds it from a server ErrorResponse. */
function pgError(
  code: string,
  message: string,
  severity = 'ERROR',
  fields: { constraint?: string; detail?: string; table?: string } = {},
): Error {
  return Object.assign(new Error(message), { code, severity, name: 'error', ...fields });
}

/** A Node socket error (net.Socket). */
function socketError(code: string, syscall = 'connect'): Error {
  return Object.assign(new Error(`${syscall} ${code} 127.0.0.1:5432`), { code, syscall, errno: -1 });
}

/** What Prisma 7 throws when the pg driver adapter reports a driver error (P2010 raw, P2039 model). */
function prismaWrapped(prismaCode: 'P2010' | 'P2039', cause: Record<string, unknown>): Error {
  const driverAdapterError = Object.assign(new Error(String(cause.kind)), {
    name: 'DriverAdapterError',
    cause,
  });
  return new Prisma.PrismaClientKnownRequestError(`Database error. Code: \`${String(cause.originalCode)}\``, {
    code: prismaCode,
    clientVersion,
    meta: { driverAdapterError },
  });
}

const connectionErrors: [string, unknown][] = [
  [
    '57P01 admin shutdown (pg_ctl -m fast/immediate)',
    pgError('57P01', 'terminating connection due to administrator command', 'FATAL'),
  ],
  [
    '57P02 crash shutdown',
    pgError('57P02', 'terminating connection because of crash of another server process', 'FATAL'),
  ],
  ['57P03 cannot connect now', pgError('57P03', 'the database system is starting up', 'FATAL')],
  ['08006 connection failure', pgError('08006', 'connection failure')],
  ['08001 cannot establish', pgError('08001', 'could not connect')],
  ['08003 connection does not exist', pgError('08003', 'connection does not exist')],
  ['08P01 protocol violation', pgError('08P01', 'protocol violation')],
  ['53300 too many connections', pgError('53300', 'sorry, too many clients already', 'FATAL')],
  ['ECONNREFUSED', socketError('ECONNREFUSED')],
  ['ECONNRESET', socketError('ECONNRESET', 'read')],
  ['EPIPE', socketError('EPIPE', 'write')],
  ['ETIMEDOUT', socketError('ETIMEDOUT')],
  ['EHOSTUNREACH', socketError('EHOSTUNREACH')],
  ['ENOTFOUND', socketError('ENOTFOUND', 'getaddrinfo')],
  [
    'AggregateError of every address tried (Node happy eyeballs)',
    Object.assign(new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], ''), {
      code: 'ECONNREFUSED',
    }),
  ],
  ['AggregateError without a code of its own', new AggregateError([socketError('ECONNREFUSED')], '')],
  ['Connection terminated unexpectedly', new Error('Connection terminated unexpectedly')],
  ['Connection terminated (client ending)', new Error('Connection terminated')],
  [
    'Connection terminated due to connection timeout',
    new Error('Connection terminated due to connection timeout'),
  ],
  [
    'a client whose connection already failed',
    new Error('Client has encountered a connection error and is not queryable'),
  ],
  ['a closed client', new Error('Client was closed and is not queryable')],
  ['pg-pool checkout timeout', new Error('timeout exceeded when trying to connect')],
  [
    'an error whose cause is the lost connection',
    new Error('query failed', { cause: new Error('Connection terminated unexpectedly') }),
  ],
  [
    'Prisma P2010 (raw) wrapping 57P01',
    prismaWrapped('P2010', {
      kind: 'postgres',
      code: '57P01',
      originalCode: '57P01',
      originalMessage: 'terminating connection due to administrator command',
    }),
  ],
  [
    'Prisma P2039 (model) wrapping 57P02',
    prismaWrapped('P2039', {
      kind: 'postgres',
      code: '57P02',
      originalCode: '57P02',
      originalMessage: 'terminating connection because of crash of another server process',
    }),
  ],
  [
    'Prisma P2039 wrapping an 08006',
    prismaWrapped('P2039', {
      kind: 'postgres',
      code: '08006',
      originalCode: '08006',
      originalMessage: 'connection failure',
    }),
  ],
  [
    'Prisma adapter ConnectionClosed',
    new Prisma.PrismaClientKnownRequestError('Server has closed the connection.', {
      code: 'P1017',
      clientVersion,
      meta: {
        driverAdapterError: Object.assign(new Error('ConnectionClosed'), {
          name: 'DriverAdapterError',
          cause: { kind: 'ConnectionClosed' },
        }),
      },
    }),
  ],
  [
    'Prisma adapter DatabaseNotReachable (P1001)',
    new Prisma.PrismaClientKnownRequestError("Can't reach database server at 127.0.0.1:1", {
      code: 'P1001',
      clientVersion,
      meta: {
        driverAdapterError: Object.assign(new Error('DatabaseNotReachable'), {
          name: 'DriverAdapterError',
          cause: { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 1 },
        }),
      },
    }),
  ],
  [
    'Prisma adapter SocketTimeout (P1008)',
    new Prisma.PrismaClientKnownRequestError('Operations timed out', { code: 'P1008', clientVersion }),
  ],
  [
    'Prisma unknown error carrying the driver message',
    new Prisma.PrismaClientUnknownRequestError('Connection terminated unexpectedly', { clientVersion }),
  ],
  [
    'Prisma unknown error: not queryable',
    new Prisma.PrismaClientUnknownRequestError(
      'Client has encountered a connection error and is not queryable',
      { clientVersion },
    ),
  ],
  [
    'Prisma initialization error',
    new Prisma.PrismaClientInitializationError(
      "Can't reach database server at `127.0.0.1:5432`",
      clientVersion,
      'P1001',
    ),
  ],
];

/** Caller mistakes that reach Postgres: [name, error, the public code]. */
const clientErrors: [string, unknown, string][] = [
  [
    '22P02 invalid text representation (a malformed uuid)',
    pgError('22P02', 'invalid input syntax for type uuid: "x"'),
    'BAD_USER_INPUT',
  ],
  [
    '22001 value too long',
    pgError('22001', 'value too long for type character varying(64)'),
    'BAD_USER_INPUT',
  ],
  [
    '22021 bad encoding (a NUL byte in text)',
    pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00'),
    'BAD_USER_INPUT',
  ],
  [
    '22P05 untranslatable character (\\u0000 in jsonb)',
    pgError('22P05', 'unsupported Unicode escape sequence'),
    'BAD_USER_INPUT',
  ],
  ['22003 numeric out of range', pgError('22003', 'integer out of range'), 'BAD_USER_INPUT'],
  [
    '22025 LIKE pattern ending in an escape',
    pgError('22025', 'LIKE pattern must not end with escape character'),
    'BAD_USER_INPUT',
  ],
  [
    '2201B invalid regular expression',
    pgError('2201B', 'invalid regular expression: parentheses () not balanced'),
    'BAD_USER_INPUT',
  ],
  [
    '23514 check violation',
    pgError('23514', 'new row violates check constraint "comments_body_length"', 'ERROR', {
      constraint: 'comments_body_length',
    }),
    'BAD_USER_INPUT',
  ],
  [
    '23505 a duplicate the caller sent',
    pgError('23505', 'duplicate key value violates unique constraint "likes_pkey"', 'ERROR', {
      constraint: 'likes_pkey',
      detail: 'Key (user_id, listing_id)=(…, 1) already exists.',
    }),
    'BAD_USER_INPUT',
  ],
  [
    '23503 a reference to a listing that does not exist',
    pgError(
      '23503',
      'insert or update on table "likes" violates foreign key constraint "likes_listing_id_fkey"',
      'ERROR',
      {
        constraint: 'likes_listing_id_fkey',
        detail: 'Key (listing_id)=(999) is not present in table "marketplace_listings".',
      },
    ),
    'BAD_USER_INPUT',
  ],
  [
    '23503 a follow of a user who does not exist (the target, not the caller)',
    pgError(
      '23503',
      'insert or update on table "follows" violates foreign key constraint "follows_followee_id_fkey"',
      'ERROR',
      {
        constraint: 'follows_followee_id_fkey',
        detail: 'Key (followee_id)=(…) is not present in table "profiles".',
      },
    ),
    'BAD_USER_INPUT',
  ],
  [
    '23503 a write by a token whose user does not exist',
    pgError(
      '23503',
      'insert or update on table "intent_signals" violates foreign key constraint "intent_signals_user_id_fkey"',
      'ERROR',
      {
        constraint: 'intent_signals_user_id_fkey',
        detail: 'Key (user_id)=(…) is not present in table "profiles".',
      },
    ),
    'UNAUTHENTICATED',
  ],
  [
    'Prisma P2039 (adapter) wrapping a 23503 on the caller’s own user_id',
    prismaWrapped('P2039', {
      kind: 'ForeignKeyConstraintViolation',
      originalCode: '23503',
      originalMessage: 'insert or update on table "likes" violates foreign key constraint',
      constraint: { index: 'likes_user_id_fkey' },
    }),
    'UNAUTHENTICATED',
  ],
  [
    'Prisma P2010 wrapping a unique violation',
    prismaWrapped('P2010', {
      kind: 'UniqueConstraintViolation',
      originalCode: '23505',
      originalMessage: 'duplicate key',
    }),
    'BAD_USER_INPUT',
  ],
  [
    'Prisma wrapping a 22P02',
    prismaWrapped('P2010', {
      kind: 'InvalidInputValue',
      originalCode: '22P02',
      originalMessage: 'invalid input syntax',
    }),
    'BAD_USER_INPUT',
  ],
  [
    '42501 refused by a row-level security policy',
    pgError('42501', 'new row violates row-level security policy for table "likes"'),
    'FORBIDDEN',
  ],
];

/** Our own failures: they stay INTERNAL_SERVER_ERROR (and count as server errors). */
const otherErrors: [string, unknown][] = [
  ['a missing grant (our misconfiguration)', pgError('42501', 'permission denied for table ops_audit')],
  [
    'a duplicate generated id (our sequence)',
    pgError('23505', 'duplicate key value violates unique constraint "ops_audit_pkey"', 'ERROR', {
      constraint: 'ops_audit_pkey',
      detail: 'Key (id)=(1) already exists.',
    }),
  ],
  ['a not-null violation (a value we failed to send)', pgError('23502', 'null value in column "kind"')],
  ['a serialization failure', pgError('40001', 'could not serialize access')],
  ['a deadlock', pgError('40P01', 'deadlock detected')],
  ['an undefined column (our SQL)', pgError('42703', 'column "x" does not exist')],
  ['a raised exception', pgError('P0001', 'boom')],
  ['a division by zero', pgError('22012', 'division by zero')],
  ['a plain bug', new Error('Cannot read properties of undefined')],
  ['a string', 'boom'],
  ['null', null],
  [
    'Prisma P2002 without a SQLSTATE',
    new Prisma.PrismaClientKnownRequestError('Unique constraint failed', { code: 'P2002', clientVersion }),
  ],
];

describe('database error classification', () => {
  it.each(connectionErrors)('%s is a connection error and UNAVAILABLE with retryAfterMs', (_name, error) => {
    expect(isConnectionError(error)).toBe(true);
    const mapped = toPublicDatabaseError(error);
    expect(mapped?.extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfterMs: 2000 });
    expect(mapped?.message).toBe('the database is unavailable; try again shortly');
  });

  it.each(otherErrors)('%s is not a connection error and stays unmapped', (_name, error) => {
    expect(isConnectionError(error)).toBe(false);
    expect(toClientError(error)).toBeUndefined();
    expect(toPublicDatabaseError(error)).toBeUndefined();
  });

  it.each(clientErrors)('%s is the caller’s mistake: %s', (_name, error, code) => {
    expect(isConnectionError(error)).toBe(false);
    expect(toOutageError(error)).toBeUndefined();
    const mapped = toPublicDatabaseError(error);
    expect(mapped?.extensions.code).toBe(code);
    expect(toClientError(error)?.extensions.code).toBe(code);
    // The message names the problem, never a constraint, table or the value sent.
    expect(mapped?.message).not.toMatch(/constraint|table|likes|profiles|uuid|UTF8/);
  });

  it('an outage wins over a client mapping (toOutageError first)', () => {
    const lost = new Error('query failed', {
      cause: pgError('57P01', 'terminating connection due to administrator command', 'FATAL'),
    });
    expect(toPublicDatabaseError(lost)?.extensions.code).toBe('UNAVAILABLE');
  });

  it('a statement timeout (57014) is TIMEOUT, never UNAVAILABLE, also wrapped by Prisma', () => {
    const raw = pgError('57014', 'canceling statement due to statement timeout');
    const wrapped = prismaWrapped('P2010', {
      kind: 'postgres',
      code: '57014',
      originalCode: '57014',
      originalMessage: 'canceling statement due to statement timeout',
    });
    for (const error of [raw, wrapped]) {
      expect(isStatementTimeout(error)).toBe(true);
      expect(isConnectionError(error)).toBe(false);
      expect(toPublicDatabaseError(error)?.extensions.code).toBe('TIMEOUT');
    }
  });

  it('walks a bounded chain: a cyclic cause neither loops nor throws', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b: Error & { cause?: unknown } = new Error('b', { cause: a });
    a.cause = b;
    expect(isConnectionError(a)).toBe(false);
  });
});
