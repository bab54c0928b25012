import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Cuts every open connection, as a dying server would; new connections are still accepted. */
  cut: () => void;
  /** Stops accepting connections (open ones stay until cut). */
  close: () => Promise<void>;
  /** Cuts every connection and refuses new ones: the server is gone. Idempotent. */
  stop: () => Promise<void>;
}

/** A TCP proxy in front of Postgres (or any TCP server) whose connections a test can cut. */
export async function startTcpProxy(target: URL, defaultPort = 5432): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(Number(target.port || defaultPort), target.hostname);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const cut = () => {
    for (const socket of sockets) socket.destroy();
  };
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port,
    cut,
    close,
    stop: () => {
      const done = close();
      cut();
      return done;
    },
  };
}
