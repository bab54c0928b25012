import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/**
 * A private Redis Cluster for tests: 6 `redis-server` processes in cluster mode on loopback (3 masters,
 * 3 replicas, made by `redis-cli --cluster create`), no persistence, a short node timeout so a killed
 * master's replica takes over in about `nodeTimeoutMs` plus an election.
 */
export interface OwnRedisCluster {
  /** `host:port,…` of every node, as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  ports: number[];
  nodeTimeoutMs: number;
  /** Ports of the nodes that are masters now (asked of a live node). */
  masters: () => Promise<number[]>;
  /** The master serving a key's slot now. */
  masterOf: (key: string) => Promise<number>;
  /** SIGKILL one node. */
  kill: (port: number) => Promise<void>;
  /** Starts a killed node again with its node file (it rejoins, as a replica once it was failed over). */
  start: (port: number) => Promise<void>;
  /** Resolves once every slot is served and cluster_state is ok on a live node. */
  waitHealthy: (timeoutMs?: number) => Promise<void>;
  destroy: () => Promise<void>;
}

async function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Six ports whose cluster-bus ports (port + 10000) are free too. */
async function sparePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (ports.includes(port)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) ports.push(port);
  }
  return ports;
}

async function withNode<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await withNode(port, (c) => c.ping())) === 'PONG') return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startOwnRedisCluster(
  options: { nodeTimeoutMs?: number; dirPrefix?: string } = {},
): Promise<OwnRedisCluster> {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const dir = await mkdtemp(path.join(os.tmpdir(), options.dirPrefix ?? 'lodestar-redis-cluster-'));
  const ports = await sparePorts(6);
  const children = new Map<number, ChildProcess>();
  const alive = () => ports.filter((p) => children.has(p));
  // A run that ends without destroy (an error, Ctrl-C) must not leave servers or files behind.
  process.once('exit', () => {
    for (const child of children.values()) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (port: number) => {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    children.set(port, child);
    child.once('exit', () => {
      if (children.get(port) === child) children.delete(port);
    });
    await waitForPing(port);
  };

  const kill = async (port: number) => {
    const child = children.get(port);
    children.delete(port);
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };

  const clusterNodes = async (): Promise<string[][]> => {
    let lastError: unknown;
    for (const port of alive()) {
      try {
        const text = (await withNode(port, (c) => c.call('CLUSTER', 'NODES'))) as string;
        return text
          .trim()
          .split('\n')
          .map((line) => line.split(' '));
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof Error ? lastError : new Error('no live node');
  };
  const portOf = (address: string) => Number(/:(\d+)@/.exec(address)?.[1]);

  const waitHealthy = async (timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        alive().map((port) =>
          withNode(port, (c) => c.call('CLUSTER', 'INFO') as Promise<string>).catch(() => ''),
        ),
      );
      if (
        states.length > 0 &&
        states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s))
      )
        return;
      if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  try {
    await Promise.all(ports.map(start));
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    await waitHealthy();
    // Every replica must have synced with its master before a failover can promote it.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const nodes = await clusterNodes();
      const replicas = nodes.filter((n) => n[2]?.includes('slave')).map((n) => portOf(n[1]!));
      const synced = await Promise.all(
        replicas.map((p) =>
          withNode(p, (c) => c.info('replication')).then((info) => /master_link_status:up/.test(info)),
        ),
      );
      if (replicas.length === 3 && synced.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error('cluster replicas did not sync');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    await Promise.all(ports.map(kill));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    nodeTimeoutMs,
    masters: async () =>
      (await clusterNodes())
        .filter((n) => n[2]?.includes('master') && !n[2].includes('fail') && n.length > 8)
        .map((n) => portOf(n[1]!)),
    masterOf: async (key) => {
      const port = alive()[0]!;
      const slot = Number(await withNode(port, (c) => c.call('CLUSTER', 'KEYSLOT', key)));
      const nodes = await clusterNodes();
      for (const n of nodes) {
        if (!n[2]?.includes('master') || n[2].includes('fail')) continue;
        for (const range of n.slice(8)) {
          const [from = -1, to = from] = range.split('-').map(Number);
          if (slot >= from && slot <= to) return portOf(n[1]!);
        }
      }
      throw new Error(`no master serves slot ${slot}`);
    },
    kill,
    start,
    waitHealthy,
    destroy: async () => {
      await Promise.all(ports.map(kill));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
