/**
 * The reads phase's peer, PostGraphile 4.14 (bench/peer/server.js), in a Node process of its own. Its
 * packages live in bench/peer/ (own package.json and package-lock.json, never the gateway's): the bench
 * runs `npm ci` there when they are missing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { freePort, readMemory, type ProcessMemory } from '../shared/gatewayProcess.js';
import { projectRoot, runNpm, startNodeProcess } from '../shared/nodeProcess.js';

export const PEER_DIR = path.join(projectRoot, 'bench', 'peer');
export const PEER_ARGS = ['bench/peer/server.js'];

/** `npm ci` in bench/peer/ unless postgraphile is already installed there; says which it did. */
export async function ensurePeerInstalled(): Promise<string> {
  if (existsSync(path.join(PEER_DIR, 'node_modules', 'postgraphile', 'package.json'))) {
    const done = 'bench/peer: packages already installed';
    console.log(done);
    return done;
  }
  console.log('bench/peer: packages missing, running npm ci in bench/peer (PostGraphile 4.14, graphql 15)');
  const started = performance.now();
  const code = await runNpm(['ci', '--no-audit', '--no-fund'], PEER_DIR);
  if (code !== 0) throw new Error(`npm ci in bench/peer failed (exit ${code})`);
  const done = `bench/peer: installed with npm ci in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  console.log(done);
  return done;
}

export interface PeerProcess {
  pid: number;
  url: string;
  memory: () => Promise<ProcessMemory>;
  stop: (graceMs?: number) => Promise<string>;
}

/** Starts the peer on a free loopback port with the gateway's login, role, pool size and timeout. */
export async function startPeerProcess(options: {
  databaseUrl: string;
  role: string;
  poolMax: number;
  statementTimeoutMs: number;
}): Promise<PeerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { pid, stop } = await startNodeProcess({
    args: PEER_ARGS,
    env: {
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      PEER_ROLE: options.role,
      PEER_POOL_MAX: String(options.poolMax),
      PEER_STATEMENT_TIMEOUT_MS: String(options.statementTimeoutMs),
    },
    label: 'postgraphile',
    readyUrl: `${url}/readyz`,
  });
  return { pid, url, memory: () => readMemory(pid), stop };
}
