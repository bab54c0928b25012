import { describe, expect, it } from 'vitest';
import { buildPersistedManifest, documentId } from './persistedOperations.js';

const source = (path: string, text: string) => ({ path, text });

describe('buildPersistedManifest', () => {
  it('lists each named operation with the fragments it uses, transitively, its id the SHA-256 of the body', () => {
    const manifest = buildPersistedManifest([
      source('feed.graphql', 'query Feed { suggestions { edges { node { ...Item } } } }'),
      source(
        'fragments.graphql',
        'fragment Item on Suggestion { listing { ...Card } }\nfragment Card on Listing { id title }\nfragment Unused on Listing { id }',
      ),
      source('like.graphql', 'mutation Like($id: ID!) { likeListing(listingId: $id) { liked } }'),
    ]);
    expect(manifest.format).toBe('apollo-persisted-query-manifest');
    expect(manifest.operations.map((o) => [o.name, o.type])).toEqual([
      ['Feed', 'query'],
      ['Like', 'mutation'],
    ]);
    const feed = manifest.operations[0]!;
    expect(feed.body).toContain('fragment Card on Listing');
    expect(feed.body).toContain('fragment Item on Suggestion');
    expect(feed.body).not.toContain('Unused');
    expect(feed.id).toBe(documentId(feed.body));
    expect(feed.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same whatever the order of the files, so a rebuilt manifest changes only with the documents', () => {
    const a = source('a.graphql', 'query A { categories { ...C } }');
    const c = source('c.graphql', 'fragment C on Category { slug }');
    expect(buildPersistedManifest([a, c])).toEqual(buildPersistedManifest([c, a]));
  });

  it('refuses anonymous operations, repeated names and unknown fragments, naming the file', () => {
    expect(() => buildPersistedManifest([source('x.graphql', '{ categories { slug } }')])).toThrow(
      'x.graphql: every operation needs a name',
    );
    expect(() =>
      buildPersistedManifest([
        source('a.graphql', 'query Same { categories { slug } }'),
        source('b.graphql', 'query Same { categories { name } }'),
      ]),
    ).toThrow('b.graphql: operation Same is also defined in a.graphql');
    expect(() =>
      buildPersistedManifest([source('a.graphql', 'query A { categories { ...Missing } }')]),
    ).toThrow('a.graphql: operation A uses the unknown fragment Missing');
    expect(() => buildPersistedManifest([source('bad.graphql', 'query {')])).toThrow(
      /^bad\.graphql: Syntax Error/,
    );
  });
});
