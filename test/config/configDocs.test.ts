import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config/config.js';
import { configDocsPath, envVarEntries, generateConfigDocs } from '../../src/config/configDocs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The TypeScript files of a folder, recursively, without tests and generated code. */
async function sourceFiles(folder: string): Promise<string[]> {
  const entries = await readdir(path.join(root, folder), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((file) => !file.includes(`${path.sep}generated${path.sep}`));
}

/** Names read as `process.env.X`, `env.X`, `env?.X` or `env['X']`. */
function envReads(source: string): string[] {
  const pattern = /\benv(?:\?\.|\.)([A-Z][A-Z0-9_]*)\b|\benv\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g;
  return [...source.matchAll(pattern)].map((m) => (m[1] ?? m[2])!);
}

describe('docs/configuration.md', () => {
  it('is what the environment schema generates (run `npm run docs:config` to update it)', async () => {
    const committed = await readFile(configDocsPath, 'utf8');
    expect(
      committed,
      'docs/configuration.md is out of date with src/config/config.ts: run `npm run docs:config` and commit it',
    ).toBe(await generateConfigDocs());
  });

  it('documents every variable of the schema, in a section of its own', () => {
    const entries = envVarEntries();
    expect(entries.map((e) => e.name)).toEqual(Object.keys(envSchema.shape));
    for (const entry of entries) expect(entry.doc.trim(), entry.name).not.toBe('');
  });
});

describe('the environment schema', () => {
  const known = new Set(Object.keys(envSchema.shape));

  it('has every environment variable that src/ and scripts/ read', async () => {
    const unknown: string[] = [];
    for (const file of [...(await sourceFiles('src')), ...(await sourceFiles('scripts'))]) {
      for (const name of envReads(await readFile(file, 'utf8'))) {
        if (!known.has(name)) unknown.push(`${path.relative(root, file)}: ${name}`);
      }
    }
    expect(unknown, 'read these through loadConfig (add them to envSchema in src/config/config.ts)').toEqual(
      [],
    );
  });

  it('has no variable that the configuration leaves unread', async () => {
    const source = await readFile(path.join(root, 'src/config/config.ts'), 'utf8');
    const read = new Set([...source.matchAll(/\be\.([A-Z][A-Z0-9_]*)\b/g)].map((m) => m[1]));
    expect([...known].filter((name) => !read.has(name))).toEqual([]);
  });
});
