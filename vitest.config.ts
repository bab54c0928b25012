import { defineConfig } from 'vitest/config';

/**
 * Files that measure time or start whole processes (gateways, Redis and Postgres servers, Chromium)
 * and judge them against deadlines: they run one at a time, after the rest, so another file's load on
 * the two cores is never what they measure.
 */
const oneAtATime = [
  'test/process/**/*.test.ts',
  'test/browser/**/*.test.ts',
  'test/telemetry/**/*.test.ts',
  'test/redis/cluster.test.ts',
  'test/db/onlineMigrations.test.ts',
];

export default defineConfig({
  resolve: {
    // graphql@16 ships index.js and index.mjs without an exports map: Node (and so @pothos/*, Apollo)
    // loads index.js while Vite would give our files index.mjs, two copies that reject each other's
    // schema objects. One copy for everyone.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Each file gets its own database and Redis prefix, so files run in parallel safely: two at a time
    // (most wait on Postgres, so two keep both cores busy), then the timing-sensitive ones alone.
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: oneAtATime,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'one at a time',
          include: oneAtATime,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
