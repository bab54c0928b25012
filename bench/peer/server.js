/**
 * PostGraphile 4.14, the reads phase's peer (bench/reads): a plain Node HTTP server on
 * 127.0.0.1:$PORT serving POST /graphql, and GET /readyz once the schema is built.
 *
 * Environment (set by bench/reads/peerProcess.ts):
 *   DATABASE_URL        the bench database as the gateway's login (lodestar_bench_gateway)
 *   PORT                a free loopback port
 *   PEER_POOL_MAX       connections, the gateway's DATABASE_POOL_MAX
 *   PEER_ROLE           the role every transaction switches to, the gateway's DATABASE_ROLE
 *   PEER_STATEMENT_TIMEOUT_MS  the gateway's STATEMENT_TIMEOUT_MS
 *
 * Every request runs as an anonymous viewer with the identity the gateway gives one
 * (src/db/identity.ts): lodestar.user_id = '' and lodestar.role = 'anonymous', so the RLS helpers
 * app_current_user_id() / app_current_role() / app_is_privileged() read the same on both sides.
 *
 * The database is not changed: the public views (public_profiles, public_comments) get their keys and
 * relations from smart tags given here, not from COMMENTs in the database, and the interests search
 * (the gateway's case-insensitive `contains` on the name) is a condition added with graphile-utils.
 */
import http from 'node:http';
import PgSimplifyInflectorPlugin from '@graphile-contrib/pg-simplify-inflector';
import graphileUtils from 'graphile-utils';
import graphql from 'graphql';
import postgraphileModule from 'postgraphile';

// CommonJS packages: their named exports are read from the default one.
const { makeAddPgTableConditionPlugin, makeJSONPgSmartTagsPlugin } = graphileUtils;
const { GraphQLString } = graphql;
const { postgraphile } = postgraphileModule;

const env = (key, fallback) => {
  const value = process.env[key] ?? fallback;
  if (value === undefined || value === '') throw new Error(`peer: ${key} is not set`);
  return value;
};

const databaseUrl = env('DATABASE_URL');
const port = Number(env('PORT'));
const poolMax = Number(env('PEER_POOL_MAX', '10'));
const role = env('PEER_ROLE', 'lodestar_app');
const statementTimeoutMs = env('PEER_STATEMENT_TIMEOUT_MS', '5000');

/** Keys and relations of the public views (PostgreSQL cannot declare them on a view). */
const smartTags = makeJSONPgSmartTagsPlugin({
  version: 1,
  config: {
    class: {
      // The gateway reads other people's profiles and comments only through the public views (RLS
      // shows an anonymous viewer no row of the tables): so does the peer.
      profiles: { tags: { omit: true } },
      comments: { tags: { omit: true } },
      public_profiles: { tags: { primaryKey: 'user_id', unique: 'handle' } },
      public_comments: {
        tags: {
          primaryKey: 'id',
          foreignKey: [
            '(listing_id) references marketplace_listings (id)|@fieldName listing|@foreignFieldName comments',
            '(user_id) references public_profiles (user_id)|@fieldName author|@foreignFieldName comments',
          ],
        },
      },
      marketplace_listings: {
        tags: {
          foreignKey:
            '(seller_id) references public_profiles (user_id)|@fieldName seller|@foreignFieldName listings',
        },
      },
    },
  },
});

/** `interests(condition: { nameContains })`: name ILIKE '%…%', LIKE wildcards matched literally. */
const nameContains = makeAddPgTableConditionPlugin(
  'public',
  'interest_catalog',
  'nameContains',
  () => ({ description: 'Case-insensitive substring of the name.', type: GraphQLString }),
  (value, helpers) => {
    const { sql, sqlTableAlias } = helpers;
    const pattern = `%${String(value).replace(/[\\%_]/g, '\\$&')}%`;
    return sql.fragment`${sqlTableAlias}.name ILIKE ${sql.value(pattern)}`;
  },
);

const middleware = postgraphile(
  { connectionString: databaseUrl, max: poolMax, application_name: 'lodestar-bench-peer' },
  'public',
  {
    dynamicJson: true,
    setofFunctionsContainNodes: false,
    ignoreRBAC: false,
    disableDefaultMutations: true,
    watchPg: false,
    graphiql: false,
    enhanceGraphiql: false,
    disableQueryLog: true,
    extendedErrors: [],
    showErrorStack: false,
    retryOnInitFail: false,
    appendPlugins: [PgSimplifyInflectorPlugin, smartTags, nameContains],
    pgSettings: {
      role,
      statement_timeout: statementTimeoutMs,
      'lodestar.user_id': '',
      'lodestar.role': 'anonymous',
    },
  },
);

let ready = false;
middleware
  .getGraphQLSchema()
  .then(() => {
    ready = true;
  })
  .catch((error) => {
    console.error('peer: could not build the schema:', error);
    process.exit(1);
  });

const server = http.createServer((req, res) => {
  if (req.url === '/readyz') {
    res.statusCode = ready ? 200 : 503;
    res.end(ready ? 'ready' : 'starting');
    return;
  }
  middleware(req, res);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');

process.once('SIGTERM', () => {
  server.close(() => {
    middleware
      .release()
      .catch(() => undefined)
      .finally(() => process.exit(0));
  });
  server.closeIdleConnections();
});
