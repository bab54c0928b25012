import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const srcDir = fileURLToPath(new URL('..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = sourceFiles(srcDir).map((path) => ({
  name: relative(srcDir, path),
  text: readFileSync(path, 'utf8'),
}));

/**
 * A client checked out of a pool with no 'error' listener ends the process when its connection dies
 * (Postgres stopping mid-request). Every checkout goes through src/db/checkout.ts, which adds the
 * listener and releases a failed client as broken; this scan keeps the class closed.
 */
describe('pool checkouts', () => {
  it('finds the source files', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.some((f) => f.name === join('db', 'checkout.ts'))).toBe(true);
  });

  it('no file but src/db/checkout.ts checks a client out of a pool with .connect()', () => {
    const offenders: string[] = [];
    for (const { name, text } of files) {
      if (name === join('db', 'checkout.ts')) continue;
      // A read replica's pool itself (FallbackPool): its connect hands a client on to its caller (withClient,
      // or its own query, which listens for errors as pg's does), from its fallback when it must.
      if (name === join('platform', 'pool.ts')) continue;
      for (const match of text.matchAll(/([\w$]+)\s*\??\.connect\(/g)) {
        const receiver = match[1] ?? '';
        // A standalone pg.Client (it has its own listener, checked below) or Redis: not a pool checkout.
        const standalone = new RegExp(`\\b${receiver}\\s*=\\s*new pg\\.Client\\(`).test(text);
        if (standalone || receiver === 'redis') continue;
        const line = text.slice(0, match.index).split('\n').length;
        offenders.push(`${name}:${line}: ${match[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('every pool and standalone client in src has an error listener', () => {
    const missing: string[] = [];
    for (const { name, text } of files) {
      for (const match of text.matchAll(/(?:const|let)\s+([\w$]+)\s*=\s*new pg\.(Pool|Client)\(/g)) {
        const variable = match[1] ?? '';
        if (!new RegExp(`\\b${variable}\\.on\\('error'`).test(text)) missing.push(`${name}: ${variable}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
