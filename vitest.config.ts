import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql@16 ships index.js and index.mjs without an exports map: Node (and so @pothos/*, Apollo)
    // loads index.js while Vite would give our files index.mjs, two copies that reject each other's
    // schema objects. One copy for everyone.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Each file gets its own database and Redis prefix, so files run in parallel safely.
    fileParallelism: true,
    pool: 'forks',
  },
});
