import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, print } from 'graphql';
import { describe, expect } from 'vitest';
import { buildPersistedManifest, documentId } from '../../src/server/persistedOperations.js';
import { insertCategory, insertProfile } from '../support/fixtures.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { parseJson, type GraphQLBody } from '../support/http.js';
import { it, test } from '../support/testFixtures.js';

const CATEGORIES = 'query PqCategories { categories { slug } }';
const ME = 'query PqMe { me { id } }';

interface Sent {
  query?: string;
  hash?: string;
  token?: string;
  /** GET with the CSRF header Apollo requires of GET (`apollo-require-preflight`) unless false. */
  get?: boolean;
  preflight?: boolean;
  variables?: Record<string, unknown>;
  /** Sent as `extensions` as they are (instead of the one `hash` makes). */
  extensions?: unknown;
}

async function send(gateway: Pick<TestGateway, 'app'>, sent: Sent) {
  const extensions =
    sent.extensions ?? (sent.hash ? { persistedQuery: { version: 1, sha256Hash: sent.hash } } : undefined);
  const headers: Record<string, string> = {};
  if (sent.token) headers.authorization = `Bearer ${sent.token}`;
  let response;
  if (sent.get) {
    const params = new URLSearchParams();
    if (sent.query !== undefined) params.set('query', sent.query);
    if (extensions) params.set('extensions', JSON.stringify(extensions));
    if (sent.preflight !== false) headers['apollo-require-preflight'] = 'true';
    response = await gateway.app.inject({ method: 'GET', url: `/graphql?${params.toString()}`, headers });
  } else {
    headers['content-type'] = 'application/json';
    response = await gateway.app.inject({
      method: 'POST',
      url: '/graphql',
      headers,
      payload: JSON.stringify({ query: sent.query, extensions, variables: sent.variables }),
    });
  }
  const body = parseJson<GraphQLBody<Record<string, unknown>>>(response.body);
  return {
    status: response.statusCode,
    cacheControl: response.headers['cache-control'],
    vary: response.headers.vary,
    body,
    code: body.errors?.[0]?.extensions?.code,
  };
}

describe('persisted operations', () => {
  test.beforeAll(async ({ db }) => {
    await insertCategory(db.pool, 'pq-cat');
  });

  it('APQ: an unknown hash asks for the document, which is then known by its hash alone, on every gateway (Redis)', async ({
    db,
    gateway,
    appEnv,
  }) => {
    const hash = documentId(CATEGORIES);
    const unknown = await send(gateway, { hash });
    expect([unknown.status, unknown.code]).toEqual([200, 'PERSISTED_QUERY_NOT_FOUND']);
    const registered = await send(gateway, { hash, query: CATEGORIES });
    expect(registered.body.errors).toBeUndefined();
    expect(registered.body.data).toHaveProperty('categories');
    const byHash = await send(gateway, { hash });
    expect(byHash.body.data).toEqual(registered.body.data);
    expect(unknown.cacheControl).toBe('private, no-store');
    // Another gateway process (its own memory) finds it through Redis.
    const other = await createTestGateway(db, appEnv);
    try {
      const there = await send(other, { hash });
      expect(there.body.errors).toBeUndefined();
      expect(there.body.data).toEqual(registered.body.data);
    } finally {
      await other.close();
    }
  });

  it('APQ: a hash that is not the document’s SHA-256 is refused with 400, and nothing is registered', async ({
    gateway,
  }) => {
    const hash = documentId('query Other { categories { name } }');
    const mismatch = await send(gateway, { hash, query: CATEGORIES });
    expect([mismatch.status, mismatch.code]).toEqual([400, 'BAD_REQUEST']);
    expect(mismatch.body.errors?.[0]?.message).toBe('provided sha does not match query');
    expect((await send(gateway, { hash })).code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('APQ: an extension of any other shape than { version: 1, sha256Hash: 64 hex digits } is a 400 BAD_REQUEST, and nothing runs', async ({
    gateway,
  }) => {
    const hash = documentId(CATEGORIES);
    expect((await send(gateway, { hash, query: CATEGORIES })).body.errors).toBeUndefined();
    for (const persistedQuery of [
      { version: 1, sha256Hash: [hash] }, // Apollo alone would run the stored document
      { version: 1, sha256Hash: hash.toUpperCase() },
      { version: 1, sha256Hash: `${hash}0` },
      { version: 1, sha256Hash: 42 },
      { version: 1, sha256Hash: { hash } },
      { version: 1 },
      { version: 2, sha256Hash: hash },
      { sha256Hash: hash },
      [hash],
      hash,
      null,
    ]) {
      for (const get of [false, true]) {
        const refused = await send(gateway, { extensions: { persistedQuery }, get });
        const label = `${get ? 'GET' : 'POST'} ${JSON.stringify(persistedQuery)}`;
        expect([refused.status, refused.code], label).toEqual([400, 'BAD_REQUEST']);
        expect(refused.body.errors?.[0]?.message, label).toContain('"version": 1, "sha256Hash"');
        expect(refused.body.data, label).toBeUndefined();
      }
    }
    // With its text too: still refused, and the text is not registered under anything.
    const withText = await send(gateway, {
      query: ME,
      extensions: { persistedQuery: { version: 1, sha256Hash: [documentId(ME)] } },
    });
    expect([withText.status, withText.code]).toEqual([400, 'BAD_REQUEST']);
    expect((await send(gateway, { hash: documentId(ME) })).code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('APQ: a document over 32 KB runs but is not remembered, so no client can fill Redis with them', async ({
    gateway,
    redis,
  }) => {
    const big = `${CATEGORIES} # ${'x'.repeat(33 * 1024)}`;
    const hash = documentId(big);
    expect((await send(gateway, { hash, query: big })).body.data).toHaveProperty('categories');
    expect((await send(gateway, { hash })).code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(await redis.redis.keys(`${redis.prefix}pq:v1:*${hash}`)).toEqual([]);
  });

  it('APQ works without Redis, in the process’s memory', async ({ db }) => {
    const alone = await createTestGateway(db, {});
    try {
      expect(alone.config.redis.url).toBeUndefined();
      const hash = documentId(CATEGORIES);
      expect((await send(alone, { hash })).code).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect((await send(alone, { hash, query: CATEGORIES })).body.errors).toBeUndefined();
      expect((await send(alone, { hash })).body.data).toHaveProperty('categories');
    } finally {
      await alone.close();
    }
  });

  it('GET: public data asked anonymously may be cached publicly; anything personal or posted is private, no-store', async ({
    gateway,
    tokens,
    db,
  }) => {
    const hash = documentId(CATEGORIES);
    await send(gateway, { hash, query: CATEGORIES });
    const anonymous = await send(gateway, { hash, get: true });
    expect([anonymous.status, anonymous.cacheControl]).toEqual([200, 'public, max-age=60']);
    // A cache keeps it apart from the same URL asked with a token.
    expect(anonymous.vary).toBe('authorization');
    expect(anonymous.body.data).toHaveProperty('categories');

    const token = await tokens.user(await insertProfile(db.pool));
    const signedIn = await send(gateway, { hash, get: true, token });
    expect([signedIn.status, signedIn.cacheControl]).toEqual([200, 'private, no-store']);
    const personal = await send(gateway, { query: ME, get: true });
    expect(personal.cacheControl).toBe('private, no-store');
    const posted = await send(gateway, { hash });
    expect(posted.cacheControl).toBe('private, no-store');
    const failed = await send(gateway, { query: '{ categories { nope } }', get: true });
    expect([failed.status, failed.cacheControl]).toEqual([400, 'private, no-store']);

    // Without a header a browser cannot send cross-site unasked, Apollo's CSRF prevention refuses a GET.
    const bare = await send(gateway, { hash, get: true, preflight: false });
    expect(bare.status).toBe(400);
    expect(bare.body.errors?.[0]?.message).toMatch(/CSRF/);
    // A mutation is never run by GET.
    const mutation = await send(gateway, {
      query: 'mutation PqLike { likeListing(listingId: "1") { liked } }',
      get: true,
    });
    expect(mutation.status).toBe(405);
  });

  it('trusted documents: only the manifest’s operations run, by id or as their exact text; nothing else is parsed', async ({
    db,
    appEnv,
    gateway: normal,
  }) => {
    const manifest = buildPersistedManifest([{ path: 'client.graphql', text: CATEGORIES }]);
    const dir = mkdtempSync(path.join(tmpdir(), 'lodestar-pq-'));
    const file = path.join(dir, 'manifest.json');
    writeFileSync(file, JSON.stringify(manifest));
    const trusted = await createTestGateway(db, { ...appEnv, GRAPHQL_TRUSTED_DOCUMENTS: file });
    try {
      const id = manifest.operations[0]!.id;
      const byId = await send(trusted, { hash: id });
      expect(byId.body.errors).toBeUndefined();
      expect(byId.body.data).toHaveProperty('categories');
      expect((await send(trusted, { hash: id, get: true })).body.data).toHaveProperty('categories');
      expect((await send(trusted, { query: manifest.operations[0]!.body })).body.errors).toBeUndefined();

      const unknown = await send(trusted, { hash: documentId(ME) });
      expect([unknown.status, unknown.code]).toEqual([400, 'TRUSTED_DOCUMENT_NOT_FOUND']);
      // A document another gateway registered in the shared Redis stays out, whatever shape the id takes.
      await send(normal, { hash: documentId(ME), query: ME });
      for (const persistedQuery of [
        { version: 1, sha256Hash: [documentId(ME)] },
        { version: 1, sha256Hash: { 0: documentId(ME) } },
        { version: 2, sha256Hash: documentId(ME) },
        null,
        documentId(ME),
      ]) {
        for (const get of [false, true]) {
          const shaped = await send(trusted, { extensions: { persistedQuery }, get });
          expect([shaped.status, shaped.code], JSON.stringify(persistedQuery)).toEqual([
            400,
            'TRUSTED_DOCUMENT_NOT_FOUND',
          ]);
        }
      }
      const adHoc = await send(trusted, { query: ME });
      expect([adHoc.status, adHoc.code]).toEqual([400, 'TRUSTED_DOCUMENTS_ONLY']);
      // Refused before parsing: a document that would not even parse gets the same answer.
      const garbage = await send(trusted, { query: '{ { {' });
      expect([garbage.status, garbage.code]).toEqual([400, 'TRUSTED_DOCUMENTS_ONLY']);
    } finally {
      await trusted.close();
    }
  });

  it('a manifest whose id is not its body’s SHA-256 stops the gateway from starting, saying so', async ({
    db,
  }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lodestar-pq-'));
    const file = path.join(dir, 'manifest.json');
    const manifest = buildPersistedManifest([{ path: 'client.graphql', text: CATEGORIES }]);
    manifest.operations[0]!.body = ME;
    writeFileSync(file, JSON.stringify(manifest));
    await expect(createTestGateway(db, { GRAPHQL_TRUSTED_DOCUMENTS: file })).rejects.toThrow(
      /operation 0 \(PqCategories\).*not the SHA-256 of its body/,
    );
    await expect(
      createTestGateway(db, { GRAPHQL_TRUSTED_DOCUMENTS: path.join(dir, 'missing.json') }),
    ).rejects.toThrow(/GRAPHQL_TRUSTED_DOCUMENTS: cannot read/);
  });

  it('npm run persisted:manifest writes the manifest of a folder of .graphql files, refusing a document the schema refuses', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lodestar-pq-'));
    writeFileSync(path.join(dir, 'categories.graphql'), CATEGORIES);
    const out = path.join(dir, 'manifest.json');
    const run = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx/esm', 'scripts/persisted-manifest.ts', ...args],
        {
          cwd: path.resolve(import.meta.dirname, '../..'),
        },
      );
    await run('--out', out, dir);
    const written = JSON.parse(readFileSync(out, 'utf8')) as { operations: { id: string; name: string }[] };
    // The body is the document as graphql-js prints it; the id is that body's SHA-256.
    expect(written.operations.map((o) => [o.name, o.id])).toEqual([
      ['PqCategories', documentId(print(parse(CATEGORIES)))],
    ]);
    writeFileSync(path.join(dir, 'broken.graphql'), 'query PqBroken { categories { nope } }');
    await expect(run('--out', out, dir)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('operation PqBroken: Cannot query field "nope"') as string,
    });
  }, 60_000);
});
