// npm run persisted:manifest -- --out manifest.json <dir or .graphql file>... — the trusted-documents
// manifest of a client's .graphql files (docs/clients.md#trusted-documents). Every operation is
// validated against the gateway's schema first, so a manifest never lists a document the gateway refuses.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createSchema } from '../src/schema/index.js';
import { buildPersistedManifest } from '../src/server/persistedOperations.js';

function graphqlFiles(entry: string): string[] {
  if (!statSync(entry).isDirectory()) return [entry];
  return readdirSync(entry, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((child) => {
      const full = path.join(entry, child.name);
      if (child.isDirectory()) return child.name === 'node_modules' ? [] : graphqlFiles(full);
      return child.name.endsWith('.graphql') ? [full] : [];
    });
}

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args[outAt + 1] : undefined;
const inputs = args.filter((_, i) => i !== outAt && i !== outAt + 1);
if (!out || inputs.length === 0) {
  console.error('usage: npm run persisted:manifest -- --out manifest.json <dir or .graphql file>...');
  process.exit(2);
}
try {
  const sources = inputs
    .flatMap(graphqlFiles)
    .map((file) => ({ path: file, text: readFileSync(file, 'utf8') }));
  const manifest = buildPersistedManifest(sources, createSchema());
  writeFileSync(out, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`wrote ${out}: ${manifest.operations.length} operation(s) from ${sources.length} file(s)`);
} catch (error) {
  console.error(`persisted:manifest: ${(error as Error).message}`);
  process.exit(1);
}
