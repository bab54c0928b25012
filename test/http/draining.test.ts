import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertCategory } from '../support/fixtures.js';
import { testConfig } from '../support/gateway.js';
import { graphql, sourceOf, type Operation, type ResultOf } from '../support/graphql.js';
import type { GraphQLBody } from '../support/http.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw keep-alive HTTP/1.1 connection: we decide when each byte goes out and read whole responses. */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    this.socket.on('error', () => undefined);
  }

  private notify() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  write(text: string) {
    this.socket.write(text);
  }

  /** Resolves when the connection is closed by the server (or rejects after `ms`). */
  async waitClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server kept the connection open');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async read(ms = 15_000): Promise<RawResponse> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (this.buffer.length >= end + 4 + length) {
          const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
          this.buffer = this.buffer.subarray(end + 4 + length);
          return { status: Number(statusLine.split(' ')[1]), headers, body };
        }
      }
      if (this.closed) throw new Error(`connection closed; received: ${this.buffer.toString()}`);
      if (Date.now() > deadline) throw new Error(`no complete response; received: ${this.buffer.toString()}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close() {
    this.socket.destroy();
  }
}

const CATEGORIES = graphql('{ categories { id slug } }');

function graphqlRequest(query: Operation<unknown>): { head: string; body: string } {
  const body = JSON.stringify({ query: sourceOf(query) });
  const head =
    'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n' +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return { head, body };
}

describe('draining on shutdown', () => {
  let db: TestDatabase;
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    await insertCategory(db.pool, 'drain-cat');
  });

  afterAll(async () => {
    await gateway?.stop();
    await db?.drop();
  });

  it('a request arriving on an open keep-alive connection while draining gets GraphQL-shaped UNAVAILABLE with Retry-After and Connection: close; the in-flight one finishes with Connection: close', async () => {
    const config = testConfig(db, { PORT: '0', STATEMENT_TIMEOUT_MS: '20000' });
    gateway = await startGateway(config, createLogger(config));
    const port = Number(new URL(gateway.url).port);
    const categories = graphqlRequest(CATEGORIES);

    // An in-flight request that holds the drain open: its statement waits for a lock we hold.
    const locker = await db.pool.connect();
    locker.on('error', () => undefined);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE categories IN ACCESS EXCLUSIVE MODE');
    const inflight = new RawConnection(port);
    const keepAlive = new RawConnection(port);
    try {
      inflight.write(categories.head + categories.body);
      // A keep-alive connection that has served one request and is open for the next one.
      await locker.query('SELECT 1');
      const first = graphqlRequest('{ __typename }');
      keepAlive.write(first.head + first.body);
      const before = await keepAlive.read();
      expect(before.status).toBe(200);
      expect(before.headers.connection).not.toBe('close');
      // The next request is on its way (started, not complete) when the shutdown begins.
      keepAlive.write(categories.head.slice(0, 40));
      // Let the server's parser see those bytes: a connection in the middle of a request is not idle.
      await new Promise((resolve) => setTimeout(resolve, 200));

      const stopping = gateway.stop();
      await new Promise((resolve) => setTimeout(resolve, 400));
      keepAlive.write(categories.head.slice(40) + categories.body);
      const refused = await keepAlive.read();
      expect(refused.status).toBe(503);
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect(refused.headers['retry-after']).toBe('2');
      expect(refused.headers.connection).toBe('close');
      const body = JSON.parse(refused.body) as {
        errors: { message: string; extensions: { code: string; retryAfterMs: number } }[];
      };
      expect(body.errors[0]?.extensions).toEqual({ code: 'UNAVAILABLE', retryAfterMs: 2000 });
      expect(body.errors[0]?.message).toMatch(/shutting down/);
      await keepAlive.waitClosed();

      // The in-flight request still completes normally, and tells its client not to reuse the socket.
      await locker.query('ROLLBACK');
      const finished = await inflight.read();
      expect(finished.status).toBe(200);
      expect(finished.headers.connection).toBe('close');
      const served = JSON.parse(finished.body) as GraphQLBody<ResultOf<typeof CATEGORIES>>;
      expect(served.data?.categories.map((c) => c.slug)).toEqual(['drain-cat']);
      await inflight.waitClosed();
      await stopping;
      gateway = undefined;
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      locker.release();
      inflight.close();
      keepAlive.close();
    }
  });
});
