import net from 'node:net';

/**
 * Counts the SQL statements a gateway process sends by sitting between it and Postgres: a TCP proxy
 * that forwards every byte unchanged and reads the frontend half of the wire protocol. The gateway
 * runs unmodified (`node dist/main.js`, DATABASE_URL pointing here), and every path it has to
 * Postgres (Prisma's pg adapter, pool.query, the service pool) is counted, because all of them go
 * over these sockets.
 *
 * A statement is one simple Query message or one Execute message (the extended protocol: Parse, Bind,
 * Execute, Sync); its text comes from the Parse of the prepared statement the Execute's portal was
 * bound to. That is one per driver query() call, as the in-process counter this replaces saw them.
 */
export interface StatementProxy {
  /** DATABASE_URL for the gateway: the target URL with this proxy's host and port. */
  url: string;
  /** The statements seen since the last take(), oldest first. */
  take: () => string[];
  close: () => Promise<void>;
}

const PROTOCOL_3 = 196_608;
const SSL_REQUEST = 80_877_103;
const GSS_ENC_REQUEST = 80_877_104;

/** Reads a NUL-terminated string at `offset`; returns it and the offset after the NUL. */
function cstring(buffer: Buffer, offset: number): [string, number] {
  const end = buffer.indexOf(0, offset);
  const stop = end === -1 ? buffer.length : end;
  return [buffer.toString('utf8', offset, stop), stop + 1];
}

/** A parser for one client connection's bytes: calls `onStatement` for every Query and Execute. */
function createFrontendParser(onStatement: (text: string) => void, onProblem: (problem: string) => void) {
  let pending: Buffer = Buffer.alloc(0);
  let startup = true;
  const prepared = new Map<string, string>();
  const portals = new Map<string, string>();

  const handle = (type: string, body: Buffer) => {
    if (type === 'Q') {
      onStatement(cstring(body, 0)[0]);
    } else if (type === 'P') {
      const [name, next] = cstring(body, 0);
      prepared.set(name, cstring(body, next)[0]);
    } else if (type === 'B') {
      const [portal, next] = cstring(body, 0);
      portals.set(portal, prepared.get(cstring(body, next)[0]) ?? '(unknown prepared statement)');
    } else if (type === 'E') {
      onStatement(portals.get(cstring(body, 0)[0]) ?? '(unknown portal)');
    }
  };

  return (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      // Startup-phase messages have no type byte: length, then a protocol version or request code.
      const header = startup ? 8 : 5;
      if (pending.length < header) return;
      const length = startup ? pending.readInt32BE(0) : 1 + pending.readInt32BE(1);
      if (pending.length < length) return;
      if (startup) {
        const code = pending.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSS_ENC_REQUEST) {
          onProblem('the gateway asked for an encrypted connection, which this proxy cannot read');
        }
        if (code === PROTOCOL_3) startup = false;
      } else {
        handle(String.fromCharCode(pending[0] ?? 0), pending.subarray(5, length));
      }
      pending = pending.subarray(length);
    }
  };
}

/** Starts the proxy on a free port of 127.0.0.1, forwarding to the server of `targetUrl`. */
export async function startStatementProxy(targetUrl: string): Promise<StatementProxy> {
  const target = new URL(targetUrl);
  const host = target.hostname || '127.0.0.1';
  const port = Number(target.port || 5432);
  let seen: string[] = [];
  let problem: string | null = null;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port });
    for (const socket of [client, upstream]) {
      // As the pg driver does: without it a message written in pieces can wait for a delayed ACK.
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // Either side failing ends both; the gateway's pool sees a dropped connection, as it would.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const parse = createFrontendParser(
      (text) => seen.push(text),
      (p) => (problem ??= p),
    );
    client.on('data', parse);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  // An encrypted connection could not be read; ask the driver for a plain one.
  url.searchParams.set('sslmode', 'disable');

  return {
    url: url.toString(),
    take: () => {
      if (problem) throw new Error(`statement proxy: ${problem}`);
      const taken = seen;
      seen = [];
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
