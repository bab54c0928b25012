import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';

/**
 * A private redis-server for tests that kill, pause or restart it (never the shared one): a spare
 * loopback port, no persistence (a restart loses every key, as a crashed cache would).
 */
export interface OwnRedis {
  port: number;
  url: string;
  /** SIGKILL: every key is gone. */
  kill: () => Promise<void>;
  /** Starts it again on the same port, empty. */
  start: () => Promise<void>;
  /** SIGSTOP / SIGCONT: connections stay open, commands wait (a slow Redis). */
  pause: () => void;
  resume: () => void;
  /** Calls of the commands named, from INFO commandstats (e.g. ['eval', 'evalsha']). */
  commandCalls: (commands: string[]) => Promise<number>;
  destroy: () => Promise<void>;
}

async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function waitForPing(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await sparePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await waitForPing(url);
  };
  const kill = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url,
    kill,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    commandCalls: async (commands) => {
      const client = new Redis(url, { maxRetriesPerRequest: 0 });
      try {
        const info = await client.info('commandstats');
        let calls = 0;
        for (const command of commands) {
          const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
          calls += Number(match?.[1] ?? 0);
        }
        return calls;
      } finally {
        client.disconnect();
      }
    },
    destroy: async () => {
      child?.kill('SIGCONT');
      await kill();
    },
  };
}
