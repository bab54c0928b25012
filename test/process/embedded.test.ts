import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  killGatewayProcesses,
  listeningUrl,
  logLines,
  postGraphQLTo,
  startGatewayProcess,
  waitForLogLine,
  type GatewayProcess,
} from '../support/process.js';
import { graphql } from '../support/graphql.js';

const LISTINGS = graphql('{ listings(first: 20) { edges { node { id title seller { handle } } } } }');

// No DATABASE_URL, no REDIS_URL, no JWT_SECRET: what a newcomer gets from `npm start`.
describe('embedded default (PGlite + pgvector, no Redis)', () => {
  let folder: string;
  let dataDir: string;
  const env = () => ({ EMBEDDED_DATA_DIR: dataDir });

  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'lodestar-embedded-'));
    dataDir = path.join(folder, 'pglite');
  });

  afterAll(async () => {
    killGatewayProcesses();
    await rm(folder, { recursive: true, force: true });
  });

  async function stop(started: GatewayProcess): Promise<void> {
    started.child.kill('SIGTERM');
    expect(await started.exit).toBe(0);
  }

  it('migrates, seeds the demo data, serves the main operations, and restarts on the same data without reseeding', async () => {
    const first = startGatewayProcess(env());
    const url = await listeningUrl(first);
    const output = first.output();
    expect(output).toContain('running on the embedded database');
    expect(output).toContain(
      'REDIS_URL and REDIS_CLUSTER_NODES are not set: running without Redis (degraded mode)',
    );
    expect(logLines(first, 'empty database: loading the demo data set (once)')).toHaveLength(1);
    expect((await stat(dataDir)).isDirectory()).toBe(true);

    const ide = await waitForLogLine<{ url: string }>(first, 'GraphQL IDE (open in a browser)');
    expect(ide.url).toBe(url.replace(/\/graphql$/, '/graphiql'));
    const tokens = await waitForLogLine<{ user: string; admin: string }>(
      first,
      'demo tokens for the Authorization header (handles "demo" and "admin")',
    );
    expect(tokens.user).toMatch(/^Bearer ey/);
    expect(tokens.admin).toMatch(/^Bearer ey/);

    const listings = await postGraphQLTo(url, LISTINGS);
    expect(listings.status).toBe(200);
    expect(listings.body.data?.listings.edges).toHaveLength(20);
    expect(listings.body.data?.listings.edges[0]?.node.seller?.handle).toMatch(/^[a-z0-9_]{3,30}$/);

    const catalog = await postGraphQLTo(
      url,
      graphql(
        '{ categories { slug } interests(first: 5, search: "a") { edges { node { name category { slug } } } } }',
      ),
    );
    expect(catalog.body.data?.categories).toHaveLength(12);
    expect(catalog.body.data?.interests.edges).toHaveLength(5);

    const me = await postGraphQLTo(
      url,
      graphql('{ me { handle interests { affinity interest { name } } } }'),
      { authorization: tokens.user ?? '' },
    );
    expect(me.body.data?.me?.handle).toBe('demo');
    expect(me.body.data?.me?.interests.length).toBeGreaterThanOrEqual(3);

    const ops = await postGraphQLTo(url, graphql('{ schemaMigrations { applied pending } }'), {
      authorization: tokens.admin ?? '',
    });
    expect(ops.body.data?.schemaMigrations.pending).toEqual([]);
    expect(ops.body.data?.schemaMigrations.applied.length).toBeGreaterThanOrEqual(3);

    const forbidden = await postGraphQLTo(url, graphql('{ schemaMigrations { pending } }'), {
      authorization: tokens.user ?? '',
    });
    expect(forbidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // A second gateway on the same data folder is refused while the first runs.
    const second = startGatewayProcess(env());
    expect(await second.exit).toBe(1);
    expect(second.output()).toContain('is in use by process');

    await stop(first);

    const again = startGatewayProcess(env());
    const url2 = await listeningUrl(again);
    expect(logLines(again, 'empty database: loading the demo data set (once)')).toHaveLength(0);
    const sameListings = await postGraphQLTo(url2, LISTINGS);
    expect(sameListings.body.data).toEqual(listings.body.data);
    await stop(again);
  }, 240_000);
});
