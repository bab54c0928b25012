import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { GATEWAY_ARGS } from '../../bench/shared/gatewayProcess.js';

// The bench measures the gateway as `npm start` runs it (its memory budget rests on the start script's
// V8 flags, docs/benchmarks.md "Memory"), so the two command lines must not drift apart, and this Node
// must still accept the flags (an unknown V8 flag makes node exit 9 before running anything).

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('the gateway command line', () => {
  it('is the start script’s, so the bench measures what production runs', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toBe(`node ${GATEWAY_ARGS.join(' ')}`);
  });

  it('runs on this Node with its V8 flags', async () => {
    // V8 and Node flags; the tracing entry (--import) needs a build and is run by the tracing tests.
    const flags = GATEWAY_ARGS.filter((arg) => arg.startsWith('--') && !arg.startsWith('--import='));
    expect(GATEWAY_ARGS).toContain('--import=./dist/telemetry/register.js');
    expect(flags).toEqual(expect.arrayContaining(['--heap-growing-percent=30', '--max-semi-space-size=8']));
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, '-e', 'console.log("ran")']);
    expect(stdout.trim()).toBe('ran');
  });
});
