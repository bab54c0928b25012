import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import { describe, expect } from 'vitest';
import { FeedPage, LikeListing, Me } from '../../clients/example/operations.js';
import type { ResultOf } from '../../clients/example/graphql.js';
import {
  clientSources,
  consoleClientDir,
  exampleClientDir,
  generateClient,
} from '../../scripts/client-generate.js';
import { createSchema } from '../../src/schema/index.js';
import { buildPersistedManifest, documentId } from '../../src/server/persistedOperations.js';
import { seedFeedWorld, createFeedViewer } from '../support/feedWorld.js';
import { insertProfile } from '../support/fixtures.js';
import { createTestGateway } from '../support/gateway.js';
import { parseJson, type GraphQLBody } from '../support/http.js';
import { it, test } from '../support/testFixtures.js';

/**
 * A client folder's committed files are what `npm run client:generate` and `npm run graphql:types` make
 * now. generateClient also validates every operation against the schema: a change that breaks one fails
 * here. Returns the manifest.
 */
function expectGenerated(dir: string) {
  const { manifest, operationsTs } = generateClient(dir);
  expect(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as unknown).toEqual(manifest);
  expect(readFileSync(path.join(dir, 'operations.ts'), 'utf8')).toBe(operationsTs);
  // Its schema types are the tests' (both written by `npm run graphql:types` from schema.graphql).
  const types = (file: string) => readFileSync(file, 'utf8').replace(/;$/gm, '').trim();
  expect(types(path.join(dir, 'graphql-env.d.ts'))).toBe(
    types(path.resolve(dir, '../../test/support/graphql-env.d.ts')),
  );
  return manifest;
}

describe('the example client (clients/example)', () => {
  it('has its manifest and typed operations generated from its .graphql files and the current schema (npm run client:generate)', () => {
    const manifest = expectGenerated(exampleClientDir);
    expect(manifest.operations.map((o) => o.name)).toEqual(
      expect.arrayContaining(['Me', 'FeedPage', 'LikeListing', 'UnlikeListing', 'HideListing', 'AddComment']),
    );
  });

  it('sends only ids to a trusted-documents gateway: the feed, the next page and a like run by their manifest ids', async ({
    db,
    tokens,
    appEnv,
  }) => {
    const world = await seedFeedWorld(db.pool, [8]);
    const viewer = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.8 }]);
    const trusted = await createTestGateway(db, {
      ...appEnv,
      GRAPHQL_TRUSTED_DOCUMENTS: path.join(exampleClientDir, 'manifest.json'),
    });
    try {
      const token = await tokens.user(viewer.userId);
      // What the client computes: the id of the document it holds is the SHA-256 of its printed text.
      const send = async <T>(
        document: Parameters<typeof print>[0],
        variables: Record<string, unknown> = {},
      ) => {
        const response = await trusted.app.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          payload: JSON.stringify({
            variables,
            extensions: { persistedQuery: { version: 1, sha256Hash: documentId(print(document)) } },
          }),
        });
        const body = parseJson<GraphQLBody<T>>(response.body);
        expect(body.errors, response.body).toBeUndefined();
        return body.data!;
      };
      const me = await send<ResultOf<typeof Me>>(Me);
      expect(me.me?.id).toBe(viewer.userId);
      const first = await send<ResultOf<typeof FeedPage>>(FeedPage, { first: 3 });
      expect(first.suggestions.edges).toHaveLength(3);
      const next = await send<ResultOf<typeof FeedPage>>(FeedPage, {
        first: 3,
        after: first.suggestions.pageInfo.endCursor,
      });
      const seen = new Set(first.suggestions.edges.map((e) => e.node.listing.id));
      expect(next.suggestions.edges.some((e) => seen.has(e.node.listing.id))).toBe(false);
      const liked = await send<ResultOf<typeof LikeListing>>(LikeListing, {
        listingId: first.suggestions.edges[0]!.node.listing.id,
      });
      expect(liked.likeListing).toMatchObject({ liked: true, changed: true });
    } finally {
      await trusted.close();
    }
  });

  test('a schema change that breaks an operation makes the generation fail, naming it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lodestar-client-'));
    const operations = path.join(dir, 'operations');
    mkdirSync(operations);
    writeFileSync(path.join(operations, 'old.graphql'), 'query Old { me { id nickname } }');
    expect(() => generateClient(dir)).toThrow(
      /operation Old: Cannot query field "nickname" on type "Viewer"/,
    );
  });
});

describe('the ops console’s operations (clients/console)', () => {
  it('has its manifest and typed operations generated from its .graphql files and the current schema', () => {
    const manifest = expectGenerated(consoleClientDir);
    expect(manifest.operations.every((o) => o.name.startsWith('Console'))).toBe(true);
  });

  it('runs by id on a gateway trusting one manifest built from both clients’ .graphql files (npm run persisted:manifest)', async ({
    db,
    tokens,
    appEnv,
  }) => {
    // What `npm run persisted:manifest -- --out m.json clients/example/operations clients/console/operations` writes.
    const combined = buildPersistedManifest(
      [...clientSources(exampleClientDir), ...clientSources(consoleClientDir)],
      createSchema(),
    );
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'lodestar-manifest-')), 'manifest.json');
    writeFileSync(file, JSON.stringify(combined));
    const trusted = await createTestGateway(db, { ...appEnv, GRAPHQL_TRUSTED_DOCUMENTS: file });
    try {
      const adminId = await insertProfile(db.pool, { role: 'admin' });
      const token = await tokens.admin(adminId);
      const byId = async (name: string, variables: Record<string, unknown> = {}) => {
        const operation = combined.operations.find((o) => o.name === name);
        const response = await trusted.app.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          payload: JSON.stringify({
            variables,
            extensions: { persistedQuery: { version: 1, sha256Hash: operation?.id } },
          }),
        });
        return parseJson<GraphQLBody<Record<string, unknown>>>(response.body);
      };
      const me = await byId('ConsoleMe');
      expect(me.errors).toBeUndefined();
      expect(me.data?.me).toMatchObject({ id: adminId, role: 'ADMIN' });
      const overview = await byId('ConsoleOverview');
      expect(overview.errors).toBeUndefined();
      expect((overview.data?.ops as { alerts: unknown[] }).alerts.length).toBeGreaterThan(5);
      // The example client's operations are in the same manifest.
      expect((await byId('Me')).errors).toBeUndefined();
    } finally {
      await trusted.close();
    }
  });
});
