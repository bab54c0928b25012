#!/usr/bin/env node
// Runs `prisma generate` without network access.
//
// The Prisma CLI tries to download a schema-engine binary on start-up unless
// PRISMA_SCHEMA_ENGINE_BINARY points at an existing executable. `generate` never runs that
// engine (Prisma 7 uses the wasm schema builder and the query compiler), so any executable will
// do; an already-set value is honoured. Update checks and telemetry are switched off too.
// Extra arguments are passed through, e.g. `npm run db:generate -- --no-hints`.
// `--if-present` (used by postinstall) skips quietly when the Prisma CLI is not installed, as in a
// production install without dev dependencies that ships an already generated client.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isWindows = process.platform === 'win32';
const prismaBin = join(root, 'node_modules', '.bin', isWindows ? 'prisma.cmd' : 'prisma');

function isExecutable(path) {
  try {
    accessSync(path, isWindows ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function defaultEngineStandIn() {
  const candidates = isWindows ? [process.execPath] : ['/bin/true', '/usr/bin/true', process.execPath];
  return candidates.find(isExecutable) ?? process.execPath;
}

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = defaultEngineStandIn();
}
env.PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING ??= '1';
env.CHECKPOINT_DISABLE ??= '1';
env.PRISMA_HIDE_UPDATE_MESSAGE ??= '1';

const args = process.argv.slice(2);
const ifPresent = args.includes('--if-present');

if (!isExecutable(prismaBin)) {
  if (ifPresent) process.exit(0);
  console.error(`db-generate: ${prismaBin} not found; run npm install first.`);
  process.exit(1);
}

const child = spawn(prismaBin, ['generate', ...args.filter((a) => a !== '--if-present')], {
  cwd: root,
  env,
  stdio: 'inherit',
  shell: isWindows,
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}

child.on('error', (err) => {
  console.error(`db-generate: failed to start prisma: ${err.message}`);
  process.exit(1);
});

child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
