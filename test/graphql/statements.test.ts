import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertCategory, insertInterest, insertProfile, insertUserInterest } from '../support/fixtures.js';
import { createInProcess, type InProcess } from '../support/gateway.js';
import { dataOf } from '../support/graphqlResult.js';
import { graphql, type Operation } from '../support/graphql.js';

/** Transaction control and the per-transaction RLS identity are overhead, not data statements. */
const overhead = /^\s*(BEGIN|COMMIT|ROLLBACK|SET TRANSACTION|SAVEPOINT|RELEASE SAVEPOINT)\b|set_config\(/i;

/** Records the text of every statement run on clients of `pool` that connect from now on. */
function recordStatements(pool: pg.Pool): { all: string[] } {
  const log = { all: [] as string[] };
  pool.on('connect', (client) => {
    const original = client.query.bind(client);
    const counting = (...args: unknown[]): unknown => {
      const first = args[0];
      const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
      log.all.push(typeof text === 'string' ? text : '<non-text query>');
      return Reflect.apply(original, undefined, args) as unknown;
    };
    client.query = counting as unknown as typeof client.query;
  });
  return log;
}

const LISTINGS = graphql(`
  query ($first: Int) {
    listings(first: $first) {
      edges {
        node {
          id
          title
          category {
            name
          }
          seller {
            handle
          }
        }
      }
    }
  }
`);
const LISTINGS_WITH_COMMENTS = graphql(`
  query ($first: Int) {
    listings(first: $first) {
      edges {
        node {
          id
          comments(first: 3) {
            body
            author {
              handle
            }
          }
        }
      }
    }
  }
`);
const ME = graphql(`
  {
    me {
      handle
      interests {
        affinity
        interest {
          name
          category {
            name
          }
        }
      }
    }
  }
`);
const INTERESTS = graphql(`
  query ($first: Int) {
    interests(first: $first) {
      edges {
        node {
          name
          category {
            name
          }
        }
      }
    }
  }
`);

describe('SQL statements per operation (N+1 guard)', () => {
  let db: TestDatabase;
  let gw: InProcess;
  let log: { all: string[] };
  let fewInterests: string;
  let manyInterests: string;

  /** Runs one operation and returns its data statements (overhead excluded) next to its data. */
  async function measure<T>(
    query: Operation<T>,
    options: { viewer?: Viewer; variables?: Record<string, unknown> } = {},
  ): Promise<{ data: T; statements: string[] }> {
    log.all.length = 0;
    const data = dataOf(await gw.execute<T>(query, options));
    const statements = log.all.filter((text) => !overhead.test(text));
    // LOG_STATEMENTS=1 npx vitest run test/graphql/statements.test.ts shows what each operation ran.
    if (process.env.LOG_STATEMENTS) console.log(`${statements.length} of ${log.all.length}:`, log.all);
    return { data, statements };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    gw = createInProcess(db);
    log = recordStatements(gw.database.pool);
    const categories = [
      await insertCategory(db.pool),
      await insertCategory(db.pool),
      await insertCategory(db.pool),
    ];
    const sellers: string[] = [];
    for (let i = 0; i < 12; i += 1) sellers.push(await insertProfile(db.pool));
    await db.pool.query(
      `INSERT INTO marketplace_listings (category_id, seller_id, title, price)
       SELECT ($1::int[])[1 + i % 3], ($2::uuid[])[1 + i % 12], 'Listing ' || i, 10 FROM generate_series(0, 59) i`,
      [categories, sellers],
    );
    const interests: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      interests.push(await insertInterest(db.pool, { categoryId: categories[i % 3]! }));
    }
    fewInterests = await insertProfile(db.pool);
    manyInterests = await insertProfile(db.pool);
    for (const [userId, count] of [
      [fewInterests, 3],
      [manyInterests, 12],
    ] as const) {
      for (const interestId of interests.slice(0, count)) {
        await insertUserInterest(db.pool, { userId, interestId, affinity: 0.5 });
      }
    }
  });

  afterAll(async () => {
    await gw?.close();
    await db?.drop();
  });

  it('reads a listings page with category and seller in one statement and no transaction, anonymously', async () => {
    const small = await measure(LISTINGS, { variables: { first: 5 } });
    const large = await measure(LISTINGS, { variables: { first: 50 } });
    expect(small.data.listings.edges).toHaveLength(5);
    expect(large.data.listings.edges).toHaveLength(50);
    const sellers = new Set(large.data.listings.edges.map((e) => e.node.seller?.handle));
    expect(sellers.size).toBe(12);
    expect(sellers.has(undefined)).toBe(false);
    const categories = new Set(large.data.listings.edges.map((e) => e.node.category.name));
    expect(categories.size).toBe(3);
    // Everything sent, overhead included: one statement, no BEGIN/set_config/COMMIT.
    expect(log.all, log.all.join('\n---\n')).toHaveLength(1);
    expect(large.statements).toHaveLength(1);
    expect(small.statements).toHaveLength(1);
  });

  it('reads a signed-in viewer’s listings page in one data statement under the viewer’s identity', async () => {
    const viewer: Viewer = { role: 'user', userId: fewInterests };
    const large = await measure(LISTINGS, { viewer, variables: { first: 20 } });
    expect(large.data.listings.edges).toHaveLength(20);
    expect(large.data.listings.edges.every((e) => e.node.seller?.handle && e.node.category.name)).toBe(true);
    expect(large.statements, large.statements.join('\n---\n')).toHaveLength(1);
    // The identity is set in the statement's transaction first: BEGIN, set_config, the page, COMMIT.
    expect(log.all.filter((s) => /set_config\('lodestar.user_id'/.test(s))).toHaveLength(1);
    expect(log.all).toHaveLength(4);
  });

  it('reads the comments of a whole listings page, with their authors, in one more statement', async () => {
    // Two comments on each of the 20 newest listings, by the sellers.
    await db.pool.query(
      `INSERT INTO comments (listing_id, user_id, body)
       SELECT l.id, l.seller_id, 'comment ' || n FROM (
         SELECT id, seller_id FROM marketplace_listings ORDER BY id DESC LIMIT 20) l, generate_series(1, 2) n`,
    );
    const small = await measure(LISTINGS_WITH_COMMENTS, { variables: { first: 2 } });
    const large = await measure(LISTINGS_WITH_COMMENTS, { variables: { first: 20 } });
    expect(small.data.listings.edges.every((e) => e.node.comments.length === 2)).toBe(true);
    expect(large.data.listings.edges.every((e) => e.node.comments.length === 2)).toBe(true);
    expect(large.data.listings.edges.every((e) => e.node.comments.every((c) => c.author?.handle))).toBe(true);
    // Anonymous: the page and the comments, no transaction.
    expect(log.all, log.all.join('\n---\n')).toHaveLength(2);
    expect(small.statements).toHaveLength(2);
    const viewer: Viewer = { role: 'user', userId: fewInterests };
    const signedIn = await measure(LISTINGS_WITH_COMMENTS, { viewer, variables: { first: 20 } });
    expect(signedIn.data.listings.edges.every((e) => e.node.comments.length === 2)).toBe(true);
    expect(signedIn.statements, signedIn.statements.join('\n---\n')).toHaveLength(2);
  });

  it('reads one listing with its category, seller and comments in one statement, anonymously', async () => {
    const { rows } = await db.pool.query<{ id: number }>(
      'SELECT id FROM marketplace_listings ORDER BY id DESC LIMIT 1',
    );
    const { data, statements } = await measure(
      graphql(`
        query ($id: ID!) {
          listing(id: $id) {
            title
            category {
              name
            }
            seller {
              handle
            }
            comments {
              body
              author {
                handle
              }
            }
          }
        }
      `),
      { variables: { id: String(rows[0]!.id) } },
    );
    expect(data.listing?.category.name).toBeTruthy();
    expect(data.listing?.seller?.handle).toBeTruthy();
    expect(data.listing?.comments.length).toBeGreaterThan(0);
    expect(statements, statements.join('\n---\n')).toHaveLength(1);
    expect(log.all).toHaveLength(1);
  });

  it('reads comments asked for through a fragment with one statement, and gives the same comments as the separate read', async () => {
    const { rows } = await db.pool.query<{ id: number }>(
      'SELECT listing_id AS id FROM comments GROUP BY listing_id ORDER BY count(*) DESC, listing_id LIMIT 1',
    );
    const id = String(rows[0]!.id);
    const together = await measure(
      graphql(`
        query ($id: ID!, $n: Int) {
          listing(id: $id) {
            ...WithComments
          }
        }
        fragment WithComments on Listing {
          title
          comments(first: $n) {
            id
            body
            createdAt
            author {
              handle
              followerCount
            }
          }
        }
      `),
      { variables: { id, n: 2 } },
    );
    expect(together.statements).toHaveLength(1);
    expect(together.data.listing?.comments).toHaveLength(2);
    // Two page sizes cannot share the listing's statement: the comments are read on their own.
    const apart = await measure(
      graphql(`
        query ($id: ID!) {
          listing(id: $id) {
            two: comments(first: 2) {
              id
              body
              createdAt
              author {
                handle
                followerCount
              }
            }
            one: comments(first: 1) {
              id
            }
          }
        }
      `),
      { variables: { id } },
    );
    expect(apart.statements).toHaveLength(2);
    expect(apart.data.listing?.two).toEqual(together.data.listing?.comments);
    expect(apart.data.listing?.one).toEqual([{ id: together.data.listing!.comments[0]!.id }]);
  });

  it('resolves me with interests and their categories in the same bounded number of statements', async () => {
    const few = await measure(ME, { viewer: { role: 'user', userId: fewInterests } });
    const many = await measure(ME, { viewer: { role: 'user', userId: manyInterests } });
    expect(few.data.me?.interests).toHaveLength(3);
    expect(many.data.me?.interests).toHaveLength(12);
    expect(many.data.me!.interests.every((i) => i.interest.category.name.length > 0)).toBe(true);
    expect(many.statements.length, many.statements.join('\n---\n')).toBeLessThanOrEqual(4);
    expect(many.statements.length).toBe(few.statements.length);
  });

  it('resolves an interests page with its categories in one statement, for 2 and for 12 rows', async () => {
    const small = await measure(INTERESTS, { variables: { first: 2 } });
    const large = await measure(INTERESTS, { variables: { first: 50 } });
    expect(small.data.interests.edges).toHaveLength(2);
    expect(large.data.interests.edges).toHaveLength(12);
    expect(large.data.interests.edges.every((e) => e.node.category.name.length > 0)).toBe(true);
    expect(large.statements, large.statements.join('\n---\n')).toHaveLength(1);
    expect(small.statements).toHaveLength(1);
  });

  it('counts every statement the harness runs, so a per-row query would show up', async () => {
    const { statements } = await measure(
      graphql(`
        {
          a: listings(first: 1) {
            edges {
              node {
                id
              }
            }
          }
          b: listings(first: 1) {
            edges {
              node {
                id
              }
            }
          }
        }
      `),
    );
    expect(statements.filter((s) => /marketplace_listings/.test(s))).toHaveLength(2);
  });

  it('reads the console’s flags page (history and complaints of every flag) in the same statements for 2 and for 8 flags', async () => {
    const admin: Viewer = { role: 'admin', userId: await insertProfile(db.pool, { role: 'admin' }) };
    const flagsPage = graphql(`
      {
        ops {
          flags {
            key
            complaints
            history(limit: 5) {
              toPct
            }
          }
        }
      }
    `);
    const statementsFor = async (flags: number) => {
      await db.pool.query('DELETE FROM feature_flags');
      for (let i = 0; i < flags; i += 1) {
        await db.pool.query(`INSERT INTO feature_flags (key, rollout_pct, state) VALUES ($1, 5, 'rolling')`, [
          `flag-${i}`,
        ]);
        await db.pool.query(
          `INSERT INTO feature_flag_history (flag_key, from_pct, to_pct, from_state, to_state, actor)
           SELECT $1, 0, g, 'off', 'rolling', 'test' FROM generate_series(1, 7) g`,
          [`flag-${i}`],
        );
      }
      const { data, statements } = await measure(flagsPage, { viewer: admin });
      expect(data.ops.flags).toHaveLength(flags);
      expect(data.ops.flags.every((f) => f.history.length === 5 && f.complaints === 0)).toBe(true);
      return statements.filter((text) => /feature_flag/.test(text)).length;
    };
    const two = await statementsFor(2);
    expect(await statementsFor(8)).toBe(two);
    expect(two).toBe(3);
  });
});
