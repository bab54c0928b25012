import { describe, expect } from 'vitest';
import type { TestDatabase } from '../support/db.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import type { InProcess } from '../support/gateway.js';
import { dataOf } from '../support/graphqlResult.js';
import { it, test } from '../support/testFixtures.js';
import { graphql } from '../support/graphql.js';

const READ = graphql(`
  query ($id: ID!) {
    listing(id: $id) {
      features {
        likeCount
        commentCount
      }
    }
    me {
      features {
        likesGiven
        commentsGiven
        followsGiven
        interestCount
      }
    }
  }
`);

/** Writes through the gateway's mutations drop the cached features they change (no waiting for the TTL). */
describe('feature freshness after writes', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let h: InProcess;

  test.beforeAll(async ({ db: fileDb, inProcess }) => {
    db = fileDb;
    h = inProcess;
    world = await seedFeedWorld(db.pool, [4]);
  });

  it('shows a like, a comment, a follow and a new interest on the next read, though the old values were cached', async () => {
    const who = await createFeedViewer(db.pool, []);
    const other = await createFeedViewer(db.pool, []);
    const id = String(world.listings[0]![0]!.id);
    const read = async () => dataOf(await h.execute(READ, { viewer: who, variables: { id } }));
    expect(await read()).toEqual({
      listing: { features: { likeCount: 0, commentCount: 0 } },
      me: { features: { likesGiven: 0, commentsGiven: 0, followsGiven: 0, interestCount: 0 } },
    });
    await h.features.settled();
    const run = async (mutation: string, variables: Record<string, unknown>) =>
      dataOf(await h.execute(mutation, { viewer: who, variables }));
    await run('mutation ($id: ID!) { likeListing(listingId: $id) { changed } }', { id });
    await run('mutation ($id: ID!) { addComment(listingId: $id, body: "nice") { changed } }', { id });
    await run('mutation ($u: ID!) { follow(userId: $u) { changed } }', { u: other.userId });
    await run('mutation ($i: ID!) { addInterest(interestId: $i) { changed } }', {
      i: String(world.interestIds[0]),
    });
    expect(await read()).toEqual({
      listing: { features: { likeCount: 1, commentCount: 1 } },
      me: { features: { likesGiven: 1, commentsGiven: 1, followsGiven: 1, interestCount: 1 } },
    });
  });
});
