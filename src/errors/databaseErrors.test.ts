import { describe, expect, it } from 'vitest';
import { Prisma } from '../generated/prisma/client.js';
import { isConnectionError, isStatementTimeout, toPublicDatabaseError } from './databaseErrors.js';

const clientVersion = '7.0.0';

/** A pg DatabaseError as node-postgres builds it from a server ErrorResponse. */
function pgError(code: string, message: string, severity = 'ERROR'): Error {
  return Object.assign(new Error(message), { code, severity, name: 'error' });
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

const otherErrors: [string, unknown][] = [
  ['a unique violation', pgError('23505', 'duplicate key value violates unique constraint "likes_pkey"')],
  ['an invalid text representation', pgError('22P02', 'invalid input syntax for type uuid')],
  ['an RLS refusal', pgError('42501', 'new row violates row-level security policy')],
  ['a serialization failure', pgError('40001', 'could not serialize access')],
  ['a plain bug', new Error('Cannot read properties of undefined')],
  ['a string', 'boom'],
  ['null', null],
  [
    'Prisma P2002 unique violation',
    new Prisma.PrismaClientKnownRequestError('Unique constraint failed', { code: 'P2002', clientVersion }),
  ],
  [
    'Prisma P2010 wrapping a unique violation',
    prismaWrapped('P2010', {
      kind: 'UniqueConstraintViolation',
      originalCode: '23505',
      originalMessage: 'duplicate key',
    }),
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
    expect(toPublicDatabaseError(error)).toBeUndefined();
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
