import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const committedPath = path.join(root, 'test/support/graphql-env.d.ts');

describe('test/support/graphql-env.d.ts', () => {
  it('is what gql.tada generates from schema.graphql (run `npm run graphql:types` to update it)', async () => {
    // The same command as `npm run graphql:types`, written elsewhere, so the check never rewrites the file.
    const dir = await mkdtemp(path.join(tmpdir(), 'graphql-env-'));
    try {
      const output = path.join(dir, 'graphql-env.d.ts');
      await promisify(execFile)(
        process.execPath,
        [path.join(root, 'node_modules/gql.tada/bin/cli.js'), 'generate-output', '--output', output],
        { cwd: root },
      );
      expect(
        await readFile(committedPath, 'utf8'),
        'the test result types are out of date with schema.graphql: run `npm run graphql:types` and commit it',
      ).toBe(await readFile(output, 'utf8'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
