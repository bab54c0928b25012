import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { AlertThresholds } from './alertThresholds.js';
import { RANKING_FEATURE_NAMES, type RankingFeatureName } from './rankingFeatures.js';

/** The project folder (src/config or dist/config are two levels below it). */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Where the process runs; production turns off developer conveniences. */
export type AppEnv = EnvVars['NODE_ENV'];

const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

/** A number from 0 to 1 written plainly (0, 0.5, 1). */
const zeroToOne = z
  .string()
  .trim()
  .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1')
  .transform(Number);

const postgresUrl = z
  .string({ error: 'must be a postgres:// or postgresql:// URL' })
  .trim()
  .refine(
    (v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v),
    'must be a postgres:// or postgresql:// URL',
  );

/** DATABASE_READ_URLS: comma-separated postgres URLs (credentials URL-encoded, so a comma never splits one). */
const postgresUrlList = z
  .string()
  .trim()
  .transform((value, ctx): string[] => {
    const urls = value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    const bad = urls.filter((v) => !/^postgres(ql)?:\/\//.test(v) || !URL.canParse(v));
    if (urls.length === 0 || bad.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be postgres:// or postgresql:// URLs, comma-separated, with any credentials URL-encoded',
      });
      return z.NEVER;
    }
    if (new Set(urls).size !== urls.length) {
      ctx.addIssue({ code: 'custom', message: 'names the same replica twice' });
      return z.NEVER;
    }
    return urls;
  });

const redisUrl = z
  .string()
  .trim()
  .refine((v) => /^rediss?:\/\//.test(v) && URL.canParse(v), 'must be a redis:// or rediss:// URL');

export interface RedisClusterSeeds {
  /** Nodes to learn the cluster's layout from (any reachable one will do; the rest are discovered). */
  nodes: { host: string; port: number }[];
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}

/**
 * A URL's credentials are never echoed in a message (DATABASE_URL, REDIS_URL, REDIS_CLUSTER_NODES, …):
 * everything between `scheme://user:` and the `@` goes, whatever it holds (a raw `,` or `/` included).
 */
const redactPasswords = (value: string) => value.replace(/(\/\/[^/:@,\s]*:)[^@\s]*@/g, '$1***@');

const decoded = (part: string): string | null => {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
};

/** One seed node: `host:port`, `[v6]:port`, or a `redis://` / `rediss://` URL (credentials, TLS). */
function parseClusterSeed(entry: string): (RedisClusterSeeds & { scheme: string }) | null {
  const url = /^rediss?:\/\//.test(entry) ? entry : `redis://${entry}`;
  if (!URL.canParse(url)) return null;
  const parsed = new URL(url);
  const port = Number(parsed.port);
  if (!parsed.hostname || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  // No database number or options: a cluster has database 0 only, and options would be ignored.
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '')
    return null;
  const username = parsed.username ? decoded(parsed.username) : undefined;
  const password = parsed.password ? decoded(parsed.password) : undefined;
  if (username === null || password === null) return null;
  return {
    nodes: [{ host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port }],
    username,
    password,
    tls: parsed.protocol === 'rediss:',
    scheme: parsed.protocol,
  };
}

const redisClusterNodes = z
  .string()
  .trim()
  .transform((value, ctx): RedisClusterSeeds => {
    const entries = value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    const seeds = entries.map(parseClusterSeed);
    const bad = entries.filter((_, i) => seeds[i] === null);
    if (entries.length === 0 || bad.length > 0) {
      // With credentials in the value, a bad entry may be a piece of a password (a raw `,` split it).
      const which = bad.length > 0 && !value.includes('@') ? ` (not one: ${bad.slice(0, 3).join(', ')})` : '';
      ctx.addIssue({
        code: 'custom',
        message: `must be host:port or redis(s)://host:port entries, comma-separated, with any credentials URL-encoded${which}`,
      });
      return z.NEVER;
    }
    const valid = seeds.filter((s) => s !== null);
    if (new Set(valid.map((s) => s.scheme)).size > 1) {
      ctx.addIssue({ code: 'custom', message: 'mixes redis:// and rediss:// nodes: TLS is all or nothing' });
      return z.NEVER;
    }
    const withCredentials = valid.filter((s) => s.password !== undefined || s.username !== undefined);
    if (new Set(withCredentials.map((s) => JSON.stringify([s.username, s.password]))).size > 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'gives different credentials on different nodes: a cluster takes one user and password',
      });
      return z.NEVER;
    }
    return {
      nodes: valid.flatMap((s) => s.nodes),
      username: withCredentials[0]?.username,
      password: withCredentials[0]?.password,
      tls: valid[0]!.tls,
    };
  });

/** One IP address, or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
const isIpOrCidr = (value: string): boolean => {
  const [address = '', prefix, ...rest] = value.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
};

/** Comma-separated IPs / CIDRs; empty = none. */
const ipList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )
  .refine(
    (list) => list.every(isIpOrCidr),
    'must be comma-separated IP addresses or CIDR blocks, e.g. 10.0.0.0/8,192.168.1.10',
  );

/**
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES: `key=value` pairs, comma-separated, each part
 * percent-encoded where needed (the W3C Baggage form the OpenTelemetry specification uses).
 */
const keyValueList = z
  .string()
  .trim()
  .transform((value, ctx): Record<string, string> => {
    const pairs: Record<string, string> = {};
    for (const pair of value.split(',').map((p) => p.trim())) {
      if (!pair) continue;
      const at = pair.indexOf('=');
      try {
        if (at < 1) throw new Error('no key');
        pairs[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: 'must be comma-separated key=value pairs (percent-encoded), e.g. api-key=abc,team=feeds',
        });
        return z.NEVER;
      }
    }
    return pairs;
  });

/**
 * FEED_RANKER_WEIGHTS: `feature=weight` pairs separated by commas or spaces (spaces fit inside an
 * `npm run eval -- --variants` override), each feature at most once; the features not named keep their
 * default weights.
 */
const rankerWeights = z
  .string()
  .trim()
  .transform((value, ctx): Partial<Record<RankingFeatureName, number>> => {
    const out: Partial<Record<RankingFeatureName, number>> = {};
    const known: readonly string[] = RANKING_FEATURE_NAMES;
    const shown = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
    for (const pair of value.split(/[\s,]+/).filter(Boolean)) {
      const at = pair.indexOf('=');
      const name = pair.slice(0, Math.max(0, at));
      const raw = pair.slice(at + 1);
      let problem: string | null = null;
      if (at < 1) problem = `${shown(pair)} is not feature=weight (pairs are separated by commas or spaces)`;
      else if (!known.includes(name))
        problem = `unknown feature ${shown(name)} (known: ${RANKING_FEATURE_NAMES.join(', ')})`;
      else if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(raw) || Math.abs(Number(raw)) > 1000)
        problem = `the weight of ${name} must be a decimal number from -1000 to 1000`;
      else if (name in out) problem = `${name} is given twice`;
      if (problem !== null) {
        ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      out[name as RankingFeatureName] = Number(raw);
    }
    return out;
  });

const httpUrl = z
  .string()
  .trim()
  .refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), 'must be an http:// or https:// URL');

/** The OTLP transports Lodestar ships exporters for (gRPC is not installed: use an OTLP/HTTP endpoint). */
const otlpProtocol = z.enum(['http/protobuf', 'http/json'], {
  error:
    'must be http/protobuf or http/json (the gRPC exporter is not installed; collectors take OTLP/HTTP on 4318)',
});

/** The sections of docs/configuration.md, in the order they are listed (npm run docs:config). */
export const envGroups = {
  server: 'Server and HTTP',
  database: 'Database',
  redis: 'Redis and the feature cache',
  auth: 'Authentication',
  graphql: 'GraphQL limits',
  feed: 'Feed',
  limits: 'Rate limits and quotas',
  worker: 'Worker',
  ops: 'Ops console and alerts',
  flags: 'Feature flags',
  tracing: 'Tracing (OpenTelemetry)',
} as const;

/** How docs/configuration.md lists one variable; every variable of `envSchema` has one. */
export interface EnvVarDoc {
  group: keyof typeof envGroups;
  /** What it does, in Markdown. */
  doc: string;
  /** The default as the docs show it, when it is not the schema's own default (unset, another variable). */
  shownDefault?: string;
}

/** The documentation of each variable, registered beside its definition. */
export const envDocs = z.registry<EnvVarDoc>();

/** Every environment variable: name, validation, default and documentation (the one source). */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development').register(envDocs, {
    group: 'server',
    doc: '`development`, `test` or `production` (production turns introspection, the IDE and public metrics off by default)',
  }),
  HOST: z
    .string()
    .trim()
    .min(1)
    .default('127.0.0.1')
    .register(envDocs, { group: 'server', doc: 'interface to listen on (`0.0.0.0` in containers)' }),
  PORT: int(0, 65535)
    .default(4000)
    .register(envDocs, { group: 'server', doc: 'HTTP port (`0` = any free port)' }),
  METRICS_PORT: int(0, 65535).optional().register(envDocs, {
    group: 'server',
    doc: 'Prometheus `GET /metrics` only on this port (`0` = any); unset: on `PORT`, but none at all in production',
  }),
  METRICS_HOST: z.string().trim().min(1).optional().register(envDocs, {
    group: 'server',
    doc: 'interface of the metrics port (e.g. a private one that only Prometheus reaches)',
    shownDefault: '`HOST`',
  }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .register(envDocs, {
      group: 'server',
      doc: '`fatal` `error` `warn` `info` `debug` `trace` `silent`; logs are JSON lines on stdout',
    }),
  DATABASE_URL: postgresUrl.optional().register(envDocs, {
    group: 'database',
    doc: '`postgresql://` URL the gateway connects with; required in production (unset in development: an embedded PGlite database started by the gateway)',
    shownDefault: 'embedded (development only)',
  }),
  EMBEDDED_DATA_DIR: z.string().trim().min(1).default('.data/pglite').register(envDocs, {
    group: 'database',
    doc: 'where the embedded database keeps its data, relative to the project folder (one gateway at a time per folder)',
  }),
  SEED_DEMO_DATA: booleanFlag.default(true).register(envDocs, {
    group: 'database',
    doc: 'embedded database: load the demo data set into an empty database at start (`false` starts empty)',
  }),
  MIGRATION_DATABASE_URL: postgresUrl.optional().register(envDocs, {
    group: 'database',
    doc: 'URL of the schema owner, for `db:migrate`, `db:seed`, `MIGRATE_ON_START`, `rebuildVectorIndex`',
    shownDefault: '`DATABASE_URL`',
  }),
  DATABASE_ROLE: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a PostgreSQL role name such as lodestar_app')
    .default('lodestar_app')
    .register(envDocs, {
      group: 'database',
      doc: 'role the gateway `SET`s on every connection, so row-level security applies; the login must be a member of it',
    }),
  DATABASE_POOL_MAX: int(1, 500).default(10).register(envDocs, {
    group: 'database',
    doc: "connections of a gateway process's main pool; the service path (feed candidates, learning events) has two more pools of half this each, one for generic-plan sessions, opened on demand and closed when idle",
  }),
  STATEMENT_TIMEOUT_MS: int(100, 600_000).default(5000).register(envDocs, {
    group: 'database',
    doc: 'per-statement timeout on gateway connections; a timeout is a `TIMEOUT` error',
  }),
  VECTOR_IVFFLAT_PROBES: int(1, 32768).default(10).register(envDocs, {
    group: 'database',
    doc: "ivfflat lists searched per vector query (the feed's search, discovery, recall checks): more is better recall and slower. About √lists keeps recall@20 ≥ 0.95: 10 up to ~200 lists, 20–40 at 1,000 lists (1M listings; docs/benchmarks.md); the `vector_index_recall` alert says when it is too low",
  }),
  DATABASE_READ_URLS: postgresUrlList.optional().register(envDocs, {
    group: 'database',
    doc: "streaming replicas of `DATABASE_URL`, comma-separated: queries' reads (catalogue, profiles, comments, the feed's candidates, feature computation) go to a healthy one, writes and a viewer's reads right after their own write go to the primary (docs/architecture.md#read-replicas)",
  }),
  REPLICA_MAX_LAG_MS: int(100, 600_000).default(10_000).register(envDocs, {
    group: 'database',
    doc: 'a replica further behind the primary than this (or down, or promoted) gets no reads until it catches up',
  }),
  REPLICA_CHECK_MS: int(100, 60_000).default(1000).register(envDocs, {
    group: 'database',
    doc: "how often each replica's replay position (and the primary's) is read: the lag's resolution",
  }),
  MIGRATE_ON_START: booleanFlag.default(false).register(envDocs, {
    group: 'database',
    doc: 'apply pending migrations at start instead of refusing to serve',
  }),
  REDIS_URL: redisUrl.optional().register(envDocs, {
    group: 'redis',
    doc: '`redis://` or `rediss://`; unset = run without Redis (degraded mode)',
  }),
  REDIS_CLUSTER_NODES: redisClusterNodes.optional().register(envDocs, {
    group: 'redis',
    doc: 'a Redis Cluster instead of REDIS_URL: seed nodes as `host:port,…` (or `redis(s)://[user:password@]host:port,…` for credentials and TLS); the rest of the cluster is discovered ([architecture.md](architecture.md#redis-cluster))',
  }),
  REDIS_KEY_PREFIX: z
    .string()
    .max(64)
    .default('lodestar:')
    .register(envDocs, { group: 'redis', doc: 'prefix of every Redis key' }),
  JWT_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (HS256 secret)')
    .optional()
    .register(envDocs, { group: 'auth', doc: 'HS256 secret (32+ characters); set this or `JWT_JWKS_URL`' }),
  JWT_JWKS_URL: z
    .string()
    .trim()
    .refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), 'must be an http(s):// URL')
    .optional()
    .register(envDocs, { group: 'auth', doc: 'JWKS URL of your identity provider (RS/ES/PS/EdDSA tokens)' }),
  JWT_ISSUER: z
    .string()
    .trim()
    .min(1)
    .default('lodestar')
    .register(envDocs, { group: 'auth', doc: 'required `iss` claim' }),
  JWT_AUDIENCE: z
    .string()
    .trim()
    .min(1)
    .default('lodestar')
    .register(envDocs, { group: 'auth', doc: 'required `aud` claim' }),
  JWT_CLOCK_TOLERANCE_SEC: int(0, 300)
    .default(30)
    .register(envDocs, { group: 'auth', doc: 'accepted clock skew for `exp`/`nbf` (0–300)' }),
  JWT_SERVICE_AUDIENCE: z.string().trim().min(1).default('lodestar-service').register(envDocs, {
    group: 'auth',
    doc: '`aud` of service tokens (must differ from `JWT_AUDIENCE`); see [security.md](security.md)',
  }),
  AUTH_ROLE_CACHE_MS: int(0, 30_000).default(2000).register(envDocs, {
    group: 'auth',
    doc: "how long a process reuses a user's role read from `profiles.role` (0–30000; 0 = every request)",
  }),
  GRAPHQL_INTROSPECTION: booleanFlag.optional().register(envDocs, {
    group: 'graphql',
    doc: 'allow `__schema` queries; off also leaves the "Did you mean …?" suggestions out of errors',
    shownDefault: 'on, off in production',
  }),
  GRAPHQL_IDE: booleanFlag.optional().register(envDocs, {
    group: 'graphql',
    doc: 'serve the in-browser GraphQL IDE (GraphiQL) at `/graphiql`',
    shownDefault: 'on, off in production',
  }),
  DEMO_PAGE: booleanFlag.optional().register(envDocs, {
    group: 'server',
    doc: 'serve the web feed page at `/demo` (sign in, infinite scroll, like / hide / not interested: [clients.md](clients.md#the-web-feed-page))',
    shownDefault: 'on, off in production',
  }),
  CONSOLE_PAGE: booleanFlag.optional().register(envDocs, {
    group: 'server',
    doc: 'serve the ops console at `/console` (admins only: every request it makes carries the signed-in admin’s token; [console.md](console.md))',
    shownDefault: 'on, off in production',
  }),
  GRAPHQL_MAX_DEPTH: int(1, 100)
    .default(12)
    .register(envDocs, { group: 'graphql', doc: 'deepest field nesting per operation' }),
  GRAPHQL_MAX_ALIASES: int(0, 1000)
    .default(30)
    .register(envDocs, { group: 'graphql', doc: 'aliased fields per document' }),
  GRAPHQL_MAX_TOKENS: int(10, 100_000)
    .default(3000)
    .register(envDocs, { group: 'graphql', doc: 'lexical tokens per document (parse stops beyond it)' }),
  GRAPHQL_MAX_COMPLEXITY: int(1, 1_000_000).default(5000).register(envDocs, {
    group: 'graphql',
    doc: 'cost limit: each field costs 1, list fields multiply by their page size',
  }),
  GRAPHQL_TRUSTED_DOCUMENTS: z.string().trim().min(1).optional().register(envDocs, {
    group: 'graphql',
    doc: 'a persisted query manifest (`npm run persisted:manifest`): only its operations run, by id; every other document is refused ([clients.md](clients.md#trusted-documents))',
  }),
  GRAPHQL_APQ_TTL_SEC: int(60, 30 * 86_400)
    .default(86_400)
    .register(envDocs, {
      group: 'graphql',
      doc: 'how long an automatic persisted query stays in Redis after it was registered ([clients.md](clients.md#automatic-persisted-queries))',
    }),
  GRAPHQL_PUBLIC_MAX_AGE_SEC: int(0, 86_400).default(60).register(envDocs, {
    group: 'graphql',
    doc: '`Cache-Control: public, max-age` of anonymous GET queries of public data (0 = `private, no-store` always)',
  }),
  GRAPHQL_MAX_FIELDS: int(1, 1_000_000).default(2000).register(envDocs, {
    group: 'graphql',
    doc: 'fields per operation once fragments are expanded (`QUERY_TOO_COMPLEX`; [graphql-validation.md](graphql-validation.md))',
  }),
  FEED_EPSILON: zeroToOne.default(0.1).register(envDocs, {
    group: 'feed',
    doc: 'ε-greedy: probability that a slot is filled from the exploration pools (0–1)',
  }),
  FEED_EXPLOIT_TOP_SLOTS: int(0, 100).default(3).register(envDocs, {
    group: 'feed',
    doc: "the first this-many places of each feed page show the ranked (exploit) items; a policy's exploration items chosen for those slots are shown just below them, so exploring never takes the top of a page (0 = exploration anywhere)",
  }),
  FEED_POLICY: z.enum(['epsilon_greedy', 'thompson']).default('epsilon_greedy').register(envDocs, {
    group: 'feed',
    doc: 'default feed policy (`epsilon_greedy` or `thompson`) for viewers outside an active feed experiment',
  }),
  FEED_POSTERIOR_REFRESH_SEC: int(5, 86_400).default(60).register(envDocs, {
    group: 'feed',
    doc: 'Thompson sampling: how often the Beta posteriors are rebuilt from learning events',
  }),
  FEED_SERVED_WINDOW_MINUTES: int(0, 7 * 24 * 60)
    .default(30)
    .register(envDocs, {
      group: 'feed',
      doc: 'listings served to a viewer within this window are not served again',
    }),
  FEED_CANDIDATE_CACHE_SEC: int(0, 86_400).default(300).register(envDocs, {
    group: 'feed',
    doc: "how long a viewer's personal candidates (the vector search's result) are reused by later feed requests; they are recomputed sooner when the profile embedding changes; 0 = search on every request",
  }),
  FEED_CANDIDATE_MEMORY_SEC: int(0, 300).default(15).register(envDocs, {
    group: 'feed',
    doc: "how long a gateway process keeps a viewer's ranked candidates after reading them, so the viewer's next pages skip the candidate statement: each costs a check of what is no longer eligible (sold or removed, own, liked, hidden, served by any process) and the impressions insert; 0 = read them for every page",
  }),
  FEED_CANDIDATE_MEMORY_VIEWERS: int(1, 100_000).default(1000).register(envDocs, {
    group: 'feed',
    doc: 'most viewers whose candidates one gateway process keeps (FEED_CANDIDATE_MEMORY_SEC), 30–45 KB each for pages of 20 (outside the V8 heap); past it, those read longest ago go first',
  }),
  FEED_EXPLORE_SAMPLE_SEC: int(1, 3600).default(30).register(envDocs, {
    group: 'feed',
    doc: "how often each gateway process redraws its sample of active listings (per category filter) that the feed's EXPLORE pool picks from; a listing sold or removed since leaves feeds at once all the same",
  }),
  FEED_CATEGORY_SHARE: z
    .string()
    .trim()
    .regex(/^(0?\.\d+|1(\.0+)?)$/, 'must be a share above 0 and at most 1, e.g. 0.6')
    .transform(Number)
    .refine((n) => n > 0, 'must be a share above 0 and at most 1, e.g. 0.6')
    .default(0.6)
    .register(envDocs, {
      group: 'feed',
      doc: 'most of one category on a page, as a share of the page (see `FEED_CATEGORY_SHARE_FROM_LIKES`)',
    }),
  FEED_CATEGORY_SHARE_FROM_LIKES: booleanFlag.default(true).register(envDocs, {
    group: 'feed',
    doc: "a category the viewer's latest 100 likes hold a larger share of than `FEED_CATEGORY_SHARE` may take that share of their page (docs/recommendations.md#the-category-cap); `false` = the same cap for everyone",
  }),
  FEED_CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters').optional().register(envDocs, {
    group: 'feed',
    doc: 'key that signs feed cursors (32+ characters; every replica needs the same)',
    shownDefault: '`JWT_SECRET`, else a random key per process',
  }),
  REDIS_COMMAND_TIMEOUT_MS: int(10, 10_000).default(100).register(envDocs, {
    group: 'redis',
    doc: 'every Redis command fails after this long (no offline queue, no retry), so a slow Redis never holds a request',
  }),
  FEATURE_TTL_SEC: int(1, 7 * 24 * 3600)
    .default(3600)
    .register(envDocs, {
      group: 'redis',
      doc: 'base TTL of cached features; each key gets TTL × uniform(1 − jitter, 1 + jitter)',
    }),
  FEATURE_TTL_JITTER: z
    .string()
    .trim()
    .regex(/^0?\.\d+$|^0$/, 'must be a share from 0 to below 1, e.g. 0.1')
    .transform(Number)
    .refine((n) => n < 1, 'must be a share from 0 to below 1, e.g. 0.1')
    .default(0.1)
    .register(envDocs, {
      group: 'redis',
      doc: 'TTL jitter share (0 to below 1), so keys written together do not expire together',
    }),
  FEATURE_EARLY_REFRESH_BETA: z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a number >= 0 (0 turns early refresh off)')
    .transform(Number)
    .default(1)
    .register(envDocs, {
      group: 'redis',
      doc: 'probabilistic early refresh near expiry (XFetch β); `0` turns it off',
    }),
  FEATURE_BREAKER_FAILURES: int(1, 1000).default(3).register(envDocs, {
    group: 'redis',
    doc: "consecutive Redis failures that open the feature cache's circuit breaker",
  }),
  FEATURE_BREAKER_OPEN_MS: int(100, 600_000).default(2000).register(envDocs, {
    group: 'redis',
    doc: 'how long the open breaker keeps requests off Redis before one probe',
  }),
  MAX_INTERESTS: int(1, 1000)
    .default(50)
    .register(envDocs, { group: 'limits', doc: 'most interests one user may have' }),
  WORKER_DATABASE_URL: postgresUrl.optional().register(envDocs, {
    group: 'worker',
    doc: "the worker's (and the ops CLI's) connection; the worker's sessions switch to `WORKER_DATABASE_ROLE`",
    shownDefault: '`MIGRATION_DATABASE_URL`, else `DATABASE_URL`',
  }),
  WORKER_DATABASE_ROLE: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a PostgreSQL role name such as lodestar_worker')
    .default('lodestar_worker')
    .register(envDocs, {
      group: 'worker',
      doc: 'the least-privilege role the worker runs as (queues, derived columns, maintenance functions; RLS applies)',
    }),
  WORKER_IN_PROCESS: booleanFlag.optional().register(envDocs, {
    group: 'worker',
    doc: "run the worker's consumers and maintenance inside the gateway process (`npm start`); on the embedded database they share its one session, each transaction as `WORKER_DATABASE_ROLE`",
    shownDefault: '`true` without `DATABASE_URL` (embedded), else `false`',
  }),
  WORKER_EVENTS: booleanFlag
    .default(true)
    .register(envDocs, { group: 'worker', doc: 'run the events consumer in this worker process' }),
  WORKER_DISCOVERY: booleanFlag
    .default(true)
    .register(envDocs, { group: 'worker', doc: 'run the discovery consumer in this worker process' }),
  WORKER_MAINTENANCE: booleanFlag.default(true).register(envDocs, {
    group: 'worker',
    doc: 'run the scheduled maintenance tasks from this worker (each task still runs once per interval overall)',
  }),
  WORKER_EVENTS_CONCURRENCY: int(1, 64)
    .default(4)
    .register(envDocs, { group: 'worker', doc: 'events the events consumer works on at once' }),
  WORKER_DISCOVERY_CONCURRENCY: int(1, 64)
    .default(2)
    .register(envDocs, { group: 'worker', doc: 'items the discovery consumer works on at once' }),
  WORKER_LEASE_MS: int(1000, 3_600_000)
    .default(30_000)
    .register(envDocs, { group: 'worker', doc: 'lease length; running items extend it every third of it' }),
  WORKER_POLL_MS: int(50, 60_000)
    .default(1000)
    .register(envDocs, { group: 'worker', doc: 'poll interval when no NOTIFY arrives (the fallback)' }),
  WORKER_ERASURE_BATCH: int(1, 10_000).default(500).register(envDocs, {
    group: 'worker',
    doc: 'rows per transaction of an account erasure ([privacy.md](privacy.md#erasure)); each batch commits with its progress',
  }),
  WORKER_METRICS_PORT: int(0, 65_535).optional().register(envDocs, {
    group: 'worker',
    doc: "serve the worker's Prometheus metrics at `GET /metrics` on this port (`HOST` interface; `0` = any free port)",
  }),
  WORKER_GC_INTERVAL_SEC: int(60, 30 * 86_400)
    .default(86_400)
    .register(envDocs, {
      group: 'worker',
      doc: 'how often `gc_intent_signals`, `gc_learning_events` and `gc_idempotency_keys` run',
    }),
  WORKER_DECAY_INTERVAL_SEC: int(60, 30 * 86_400)
    .default(7 * 86_400)
    .register(envDocs, {
      group: 'worker',
      doc: 'how often interest decay runs (it decays by whole weeks, so any cadence is safe)',
    }),
  WORKER_GAP_INTERVAL_SEC: int(60, 30 * 86_400)
    .default(3600)
    .register(envDocs, {
      group: 'worker',
      doc: 'how often the worst gaps of `vw_gap_severity` are enqueued for discovery',
    }),
  WORKER_ANALYZE_CHECK_SEC: int(10, 86_400).default(300).register(envDocs, {
    group: 'worker',
    doc: 'how often the hot tables are checked for bulk changes and the changed ones analyzed',
  }),
  WORKER_ROLLOUT_CHECK_SEC: int(10, 86_400).default(60).register(envDocs, {
    group: 'worker',
    doc: 'how often the worker runs `evaluateRollouts` (feature flag auto-rollback)',
  }),
  WORKER_VECTOR_INDEX_CHECK_SEC: int(60, 30 * 86_400)
    .default(3600)
    .register(envDocs, {
      group: 'worker',
      doc: 'how often ivfflat indexes whose table grew or shrank > 2× since their build are rebuilt (pgvector lists)',
    }),
  WORKER_VECTOR_RECALL_INTERVAL_SEC: int(60, 30 * 86_400)
    .default(3600)
    .register(envDocs, {
      group: 'worker',
      doc: 'how often recall@20 of every vector index is measured against exact search (200 sampled vectors)',
    }),
  ALERT_DISCOVERY_P95_AGE_SEC: int(1, 86_400 * 30)
    .default(300)
    .register(envDocs, { group: 'ops', doc: 'critical alert: discovery queue p95 age above this' }),
  ALERT_KERNEL_P95_MS: int(1, 600_000).default(1000).register(envDocs, {
    group: 'ops',
    doc: "critical alert: any kernel's p95 over the last hour above this",
  }),
  ALERT_DISCOVERY_HIGH_RETRY: int(0, 1_000_000_000)
    .default(10)
    .register(envDocs, { group: 'ops', doc: 'critical alert: discovery items with 3+ attempts above this' }),
  ALERT_PROFILE_PCT_HAS_VEC: zeroToOne.default(0.5).register(envDocs, {
    group: 'ops',
    doc: 'warning: share of users with interests that have a profile embedding below this',
  }),
  ALERT_LEARNING_SILENCE_SEC: int(60, 86_400 * 365)
    .default(86_400)
    .register(envDocs, { group: 'ops', doc: 'warning: no learning event for longer than this' }),
  ALERT_DEAD_TUPLE_SHARE: zeroToOne.default(0.2).register(envDocs, {
    group: 'ops',
    doc: "warning `table_bloat`: a hot table's dead-tuple share above this (0–1) …",
  }),
  ALERT_DEAD_TUPLE_MIN: int(0, 1_000_000_000_000).default(1000).register(envDocs, {
    group: 'ops',
    doc: '… once it has at least this many dead tuples (tiny tables never alert)',
  }),
  ALERT_VECTOR_RECALL_MIN: zeroToOne.default(0.9).register(envDocs, {
    group: 'ops',
    doc: "warning: a vector index's last measured recall@20 below this",
  }),
  ALERT_REPLICA_LAG_SEC: int(1, 86_400).default(5).register(envDocs, {
    group: 'ops',
    doc: 'critical alert `replica_lag` (with `DATABASE_READ_URLS`): a replica behind the primary by more than this, or down',
  }),
  ALERT_EVENT_PARTITION_DAYS: int(1, 365).default(7).register(envDocs, {
    group: 'ops',
    doc: "warning alert `event_log_partitions`: learning_events' or intent_signals' weekly partitions reach fewer than this many days ahead (the worker's create_event_partitions keeps 28), or rows landed in a DEFAULT partition",
  }),
  FLAGS_REFRESH_SEC: int(1, 3600)
    .default(5)
    .register(envDocs, { group: 'flags', doc: 'how often each gateway re-reads feature flags' }),
  FLAGS_EVALUATION_WINDOW_SEC: int(60, 7 * 86_400)
    .default(900)
    .register(envDocs, {
      group: 'flags',
      doc: '`evaluateRollouts` judges at most this much recent traffic (and only since the last rollout change)',
    }),
  FLAGS_MIN_REQUESTS: int(1, 10_000_000).default(200).register(envDocs, {
    group: 'flags',
    doc: 'exposed requests needed before error rate and latency are judged',
  }),
  FLAGS_MAX_ERRORS_PER_USER: int(1, 10_000_000).default(10).register(envDocs, {
    group: 'flags',
    doc: "each user's server errors count at most this many times per flag variant ([security.md](security.md))",
  }),
  FLAGS_MIN_AFFECTED_USERS: int(1, 1_000_000).default(5).register(envDocs, {
    group: 'flags',
    doc: 'distinct users with server errors needed before an error rate can roll a flag back ([security.md](security.md))',
  }),
  TELEMETRY_FLUSH_MS: int(100, 60_000).default(1000).register(envDocs, {
    group: 'ops',
    doc: 'how often kernel latency samples and flag exposure aggregates are written',
  }),
  OPS_INDEX_BUILD_TIMEOUT_MS: int(1000, 24 * 3_600_000)
    .default(1_800_000)
    .register(envDocs, {
      group: 'ops',
      doc: 'statement timeout of `rebuildVectorIndex` (an index build is one statement)',
    }),
  RATE_LIMITS_ENABLED: booleanFlag.default(true).register(envDocs, {
    group: 'limits',
    doc: '`false` turns the write rate limits off — only to measure their cost or in an emergency',
  }),
  RATE_LIMIT_LIKES_PER_MIN: int(1, 100_000).default(120).register(envDocs, {
    group: 'limits',
    doc: 'likes + unlikes per user per minute (all instances together)',
  }),
  RATE_LIMIT_COMMENTS_PER_MIN: int(1, 100_000)
    .default(10)
    .register(envDocs, { group: 'limits', doc: 'comments added or deleted per user per minute' }),
  RATE_LIMIT_FOLLOWS_PER_MIN: int(1, 100_000)
    .default(60)
    .register(envDocs, { group: 'limits', doc: 'follows + unfollows per user per minute' }),
  RATE_LIMIT_INTERESTS_PER_MIN: int(1, 100_000)
    .default(60)
    .register(envDocs, { group: 'limits', doc: 'interest changes per user per minute' }),
  RATE_LIMIT_SIGNALS_PER_MIN: int(1, 100_000)
    .default(600)
    .register(envDocs, { group: 'limits', doc: 'signals per user per minute' }),
  RATE_LIMIT_HIDES_PER_MIN: int(1, 100_000)
    .default(60)
    .register(envDocs, { group: 'limits', doc: '`hideListing` calls per user per minute' }),
  RATE_LIMIT_FEEDBACK_PER_MIN: int(1, 100_000)
    .default(300)
    .register(envDocs, { group: 'limits', doc: '`recordFeedback` calls per user per minute' }),
  RATE_LIMIT_ADMIN_PER_MIN: int(1, 100_000).default(600).register(envDocs, {
    group: 'limits',
    doc: 'admin mutations (ops actions, flags, experiments) per admin per minute, one shared budget',
  }),
  RATE_LIMIT_CATALOG_PER_MIN: int(1, 100_000).default(120).register(envDocs, {
    group: 'limits',
    doc: 'catalogue batches (`upsertListings`, `setListingStatus`, `upsertInterests`) per service caller or admin per minute',
  }),
  RATE_LIMIT_EXPECTED_INSTANCES: int(1, 1000).default(2).register(envDocs, {
    group: 'limits',
    doc: 'gateways sharing the limits: without Redis each allows ⌊limit / this⌋ a minute alone ([security.md](security.md))',
  }),
  RATE_LIMIT_FEED_PER_MIN: int(1, 100_000).default(120).register(envDocs, {
    group: 'limits',
    doc: '`suggestions` pages per client (user; anonymous: client address) per minute',
  }),
  RATE_LIMIT_READS_PER_MIN: int(1, 1_000_000).default(600).register(envDocs, {
    group: 'limits',
    doc: 'other costly reads (listings, search, similar, features, ops) per client per minute',
  }),
  RATE_LIMIT_ACCOUNT_PER_MIN: int(1, 10_000).default(5).register(envDocs, {
    group: 'limits',
    doc: '`deleteMyAccount` calls per user per minute ([privacy.md](privacy.md#erasure))',
  }),
  RATE_LIMIT_EXPORTS_PER_HOUR: int(1, 10_000).default(3).register(envDocs, {
    group: 'limits',
    doc: 'privacy exports (`GET /privacy/export`) per user per hour ([privacy.md](privacy.md#export))',
  }),
  FEED_EXPERIMENT: z
    .string()
    .trim()
    .regex(/^[a-z0-9_.-]{1,64}$/, 'must be an experiment key (a-z, 0-9, _ . -, at most 64)')
    .default('feed-policy')
    .register(envDocs, {
      group: 'feed',
      doc: 'key of the experiment whose arms choose the feed policy while it is active',
    }),
  FEED_EXPERIMENT_REFRESH_SEC: int(1, 3600)
    .default(30)
    .register(envDocs, { group: 'feed', doc: 'how often each gateway re-reads that experiment' }),
  FEED_LIKE_ATTRIBUTION_MINUTES: int(0, 7 * 24 * 60)
    .default(30)
    .register(envDocs, {
      group: 'feed',
      doc: 'a like within this many minutes of an impression of the listing rewards that impression',
    }),
  FEED_PROFILE_RECOMPUTE_SEC: int(0, 86_400).default(60).register(envDocs, {
    group: 'feed',
    doc: "interest drift recomputes a viewer's profile embedding at most once per this many seconds",
  }),
  FEED_PROFILE_BEHAVIOUR: booleanFlag.default(true).register(envDocs, {
    group: 'feed',
    doc: "profile embeddings blend the viewer's engagement (likes, feedback, signals, hides) with their interests; `false` = interests only",
  }),
  FEED_RANKER: z.enum(['learned', 'fixed', 'off']).default('learned').register(envDocs, {
    group: 'feed',
    doc: 'ranking of personalised candidates: `learned` (weights the worker fits on feedback, the fixed defaults until it has enough), `fixed` (the defaults), `off` (similarity order only)',
  }),
  FEED_RANKER_WEIGHTS: rankerWeights.optional().register(envDocs, {
    group: 'feed',
    shownDefault: 'unset (the built-in defaults)',
    doc: 'fixed ranking weights instead of the built-in defaults, as `feature=weight` pairs separated by commas or spaces (e.g. `popularity=0.2,coengagement=0.5`; features not named keep their defaults; names in [recommendations.md](recommendations.md#ranking)): what `FEED_RANKER=fixed` serves, what `learned` serves until the worker stores a model trained against them, and what that model must beat and is pulled towards; give the gateway and the worker the same value',
  }),
  FEED_RANKER_MIN_EVENTS: int(1, 100_000_000).default(5000).register(envDocs, {
    group: 'feed',
    doc: 'logged impressions (with features) the worker needs before it trains ranking weights',
  }),
  FEED_COENGAGEMENT_CANDIDATES: int(0, 1000).default(50).register(envDocs, {
    group: 'feed',
    doc: 'candidates per page from co-engagement with the viewer\'s recent likes ("liked together"); 0 = none',
  }),
  BODY_LIMIT_BYTES: int(1024, 50 * 1024 * 1024)
    .default(1024 * 1024)
    .register(envDocs, {
      group: 'server',
      doc: 'largest request body of people and anonymous callers (413 beyond it)',
    }),
  SERVICE_BODY_LIMIT_BYTES: int(1024, 256 * 1024 * 1024)
    .default(16 * 1024 * 1024)
    .register(envDocs, {
      group: 'server',
      doc: 'largest request body of a verified service token (catalogue batches; [api.md](api.md#catalogue-api)); at least `BODY_LIMIT_BYTES` applies',
    }),
  TRUSTED_PROXIES: ipList.default([]).register(envDocs, {
    group: 'server',
    doc: 'IPs/CIDRs of your reverse proxies, comma-separated: only from these is `X-Forwarded-For` believed (client address)',
    shownDefault: 'none',
  }),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000).register(envDocs, {
    group: 'server',
    doc: 'how long SIGTERM/SIGINT waits for in-flight requests before exiting',
  }),
  OTEL_SDK_DISABLED: booleanFlag.default(false).register(envDocs, {
    group: 'tracing',
    doc: '`true` turns tracing off whatever else is set',
  }),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none']).optional().register(envDocs, {
    group: 'tracing',
    doc: 'where spans go: `otlp` (a collector), `console` (stdout, for a look in development) or `none`. Tracing is on when this is `otlp` or `console`, or when an OTLP endpoint is set; otherwise off',
    shownDefault: 'unset (off, unless an endpoint is set)',
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional().register(envDocs, {
    group: 'tracing',
    doc: "the collector's OTLP/HTTP base URL (spans go to `/v1/traces` under it), e.g. `http://otel-collector:4318`",
    shownDefault: 'unset (`http://localhost:4318` when `OTEL_TRACES_EXPORTER=otlp`)',
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional().register(envDocs, {
    group: 'tracing',
    doc: 'the full URL spans are posted to, when it is not `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`',
  }),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.default('http/protobuf').register(envDocs, {
    group: 'tracing',
    doc: 'OTLP encoding: `http/protobuf` or `http/json`',
  }),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional().register(envDocs, {
    group: 'tracing',
    doc: 'the encoding of spans, when it differs from `OTEL_EXPORTER_OTLP_PROTOCOL`',
  }),
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList.optional().register(envDocs, {
    group: 'tracing',
    doc: 'headers sent to the collector (`key=value,…`, e.g. an API key); never logged',
  }),
  OTEL_EXPORTER_OTLP_TIMEOUT: int(100, 600_000).default(10_000).register(envDocs, {
    group: 'tracing',
    doc: 'milliseconds one export may take before it is dropped (spans are sent in the background, never on a request)',
  }),
  OTEL_SERVICE_NAME: z.string().trim().min(1).optional().register(envDocs, {
    group: 'tracing',
    doc: 'the `service.name` of every span',
    shownDefault: '`lodestar-gateway` (`lodestar-worker` for `npm run worker`)',
  }),
  OTEL_RESOURCE_ATTRIBUTES: keyValueList.optional().register(envDocs, {
    group: 'tracing',
    doc: 'more resource attributes, `key=value,…` (e.g. `deployment.environment=prod,service.version=1.4.2`)',
  }),
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on')
    .register(envDocs, {
      group: 'tracing',
      doc: "which traces are kept; `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG=0.1` keeps one in ten new traces and follows the caller's `traceparent` decision",
    }),
  OTEL_TRACES_SAMPLER_ARG: zeroToOne.optional().register(envDocs, {
    group: 'tracing',
    doc: 'the ratio of the `traceidratio` samplers',
    shownDefault: '`1`',
  }),
  OTEL_PROPAGATORS: z.enum(['none', 'tracecontext']).default('none').register(envDocs, {
    group: 'tracing',
    doc: "`tracecontext` continues a caller's W3C `traceparent` (and follows its sampling decision); `none` starts every request's trace here. The default is `none`, not the specification's `tracecontext`: a public caller could otherwise choose trace ids and force every request to be kept. Set `tracecontext` behind an edge you control that sets or strips the header",
  }),
  TRACE_RESOLVER_MIN_COST: int(1, 1_000_000).default(10).register(envDocs, {
    group: 'tracing',
    doc: "a resolver gets a span of its own when its cost reaches this: its field weight times its page size in the complexity model (a 10-item feed page costs 50, a scalar 1); cheaper fields are covered by the operation's span",
  }),
});

/** The validated environment variables (the output of `envSchema`). */
export type EnvVars = z.infer<typeof envSchema>;

/** The configuration every process reads: what `configFrom` makes of the validated variables. */
export type Config = ReturnType<typeof configFrom>;

/** Thrown when the environment is invalid; `problems` has one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function describeValue(env: NodeJS.ProcessEnv, key: string): string {
  const value = env[key];
  if (value === undefined) return 'it is not set';
  if (/SECRET|PASSWORD|HEADERS/.test(key)) return 'got a value that is not shown';
  const shown = redactPasswords(value);
  return `got "${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}"`;
}

/**
 * Reads and validates the configuration from environment variables, once, at start.
 * Every problem is reported at once, one line per variable, saying what to fix.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  /** The worker and the ops CLI verify no tokens and need only their own database URL. */
  role: 'gateway' | 'worker' = 'gateway',
): Config {
  // An empty string means "not set" for optional variables (common in .env files and CI).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      return `${key} ${issue.message}, ${describeValue(env, key)}`;
    });
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const problems: string[] = [];
  const production = e.NODE_ENV === 'production';
  const gateway = role === 'gateway';
  if (gateway && production && !e.JWT_SECRET && !e.JWT_JWKS_URL) {
    problems.push('JWT_SECRET or JWT_JWKS_URL must be set (HS256 secret of 32+ characters, or a JWKS URL)');
  }
  if (gateway && e.DATABASE_READ_URLS && !e.DATABASE_URL) {
    problems.push(
      'DATABASE_READ_URLS needs DATABASE_URL: replicas are of a Postgres server, not of the embedded database',
    );
  }
  if (gateway && production && !e.DATABASE_URL) {
    problems.push('DATABASE_URL must be set in production (the embedded database is for development only)');
  }
  if (!gateway && !e.WORKER_DATABASE_URL && !e.MIGRATION_DATABASE_URL && !e.DATABASE_URL) {
    problems.push('WORKER_DATABASE_URL (or MIGRATION_DATABASE_URL or DATABASE_URL) must be set');
  }
  if (gateway && e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    problems.push(
      `METRICS_PORT must differ from PORT (${e.PORT}): metrics are served on a port of their own`,
    );
  }
  if (e.REDIS_URL && e.REDIS_CLUSTER_NODES) {
    problems.push('REDIS_URL and REDIS_CLUSTER_NODES are both set: choose one Redis (a server or a cluster)');
  }
  if (e.REDIS_CLUSTER_NODES && /\{[^}]+\}/.test(e.REDIS_KEY_PREFIX)) {
    problems.push(
      `REDIS_KEY_PREFIX must not hold a hash tag ({…}) on a Redis Cluster: every key would live in one slot, got "${e.REDIS_KEY_PREFIX}"`,
    );
  }
  if (e.JWT_SECRET && e.JWT_JWKS_URL) {
    problems.push('JWT_SECRET and JWT_JWKS_URL are both set: choose one way to verify tokens');
  }
  if (e.JWT_SERVICE_AUDIENCE === e.JWT_AUDIENCE) {
    problems.push(
      'JWT_SERVICE_AUDIENCE must differ from JWT_AUDIENCE (service callers are told apart by their audience)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return configFrom(e);
}

/** The one mapping from variables to configuration; its return type is `Config`. */
function configFrom(e: EnvVars) {
  const production = e.NODE_ENV === 'production';
  /** `lodestar.*` settings every gateway session carries; SQL functions read them (current_setting). */
  const sessionSettings: Record<string, string> = {
    'lodestar.like_attribution_window': `${e.FEED_LIKE_ATTRIBUTION_MINUTES}min`,
    'lodestar.profile_recompute_interval': `${e.FEED_PROFILE_RECOMPUTE_SEC}s`,
    'lodestar.profile_behaviour': e.FEED_PROFILE_BEHAVIOUR ? 'on' : 'off',
  };
  const alerts: AlertThresholds = {
    discoveryP95AgeSec: e.ALERT_DISCOVERY_P95_AGE_SEC,
    kernelP95Ms: e.ALERT_KERNEL_P95_MS,
    discoveryHighRetry: e.ALERT_DISCOVERY_HIGH_RETRY,
    profilePctHasVec: e.ALERT_PROFILE_PCT_HAS_VEC,
    learningSilenceSec: e.ALERT_LEARNING_SILENCE_SEC,
    deadTupleShare: e.ALERT_DEAD_TUPLE_SHARE,
    deadTupleMin: e.ALERT_DEAD_TUPLE_MIN,
    vectorRecallMin: e.ALERT_VECTOR_RECALL_MIN,
    replicaLagSec: e.ALERT_REPLICA_LAG_SEC,
    eventPartitionDays: e.ALERT_EVENT_PARTITION_DAYS,
  };
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    /**
     * Prometheus metrics. With `port` set they are served only there (GET /metrics on `host`, 0 = any
     * free port), never on the public port; unset, development and test keep /metrics on the public
     * port and production serves none (docs/security.md).
     */
    metrics: {
      port: e.METRICS_PORT,
      host: e.METRICS_HOST ?? e.HOST,
      onPublicPort: e.METRICS_PORT === undefined && !production,
    },
    logLevel: e.LOG_LEVEL,
    database: {
      /**
       * Where Postgres is; undefined = the embedded default (PGlite, started by the gateway, with its
       * data under `embeddedDataDir`). Development only.
       */
      url: e.DATABASE_URL,
      migrationUrl: e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL,
      // Relative to the project folder, not the working directory, so every start finds the same data.
      embeddedDataDir: path.resolve(projectRoot, e.EMBEDDED_DATA_DIR),
      /** Embedded mode: load the demo data set into an empty database at start. */
      seedDemoData: e.SEED_DEMO_DATA,
      /** Role the gateway switches to on every connection so RLS applies. */
      role: e.DATABASE_ROLE,
      poolMax: e.DATABASE_POOL_MAX,
      statementTimeoutMs: e.STATEMENT_TIMEOUT_MS,
      /** ivfflat lists searched per vector query, on every path that searches (service, worker, ops). */
      ivfflatProbes: e.VECTOR_IVFFLAT_PROBES,
      migrateOnStart: e.MIGRATE_ON_START,
      sessionSettings,
      /** Streaming replicas for reads (docs/architecture.md#read-replicas); empty = every read on the primary. */
      readUrls: e.DATABASE_READ_URLS ?? [],
      replicaMaxLagMs: e.REPLICA_MAX_LAG_MS,
      replicaCheckMs: e.REPLICA_CHECK_MS,
    },
    redis: {
      url: e.REDIS_URL,
      /** Set instead of `url` for a Redis Cluster. */
      cluster: e.REDIS_CLUSTER_NODES,
      keyPrefix: e.REDIS_KEY_PREFIX,
      /** Every Redis command fails after this long (no offline queue), so a slow Redis never holds a request. */
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    },
    /** The queue worker (npm run worker). */
    worker: {
      /** Where the worker connects (the owner's URL by default); each session switches to `role`. */
      databaseUrl: e.WORKER_DATABASE_URL ?? e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL,
      /** The least-privilege role every worker session runs as (lodestar_worker). */
      role: e.WORKER_DATABASE_ROLE,
      /** The gateway runs the consumers and maintenance itself; by default only on the embedded database. */
      inProcess: e.WORKER_IN_PROCESS ?? !e.DATABASE_URL,
      events: { enabled: e.WORKER_EVENTS, concurrency: e.WORKER_EVENTS_CONCURRENCY },
      discovery: { enabled: e.WORKER_DISCOVERY, concurrency: e.WORKER_DISCOVERY_CONCURRENCY },
      /** Scheduled maintenance (GC, decay, gap discovery, ANALYZE); one worker runs each task per interval. */
      maintenance: e.WORKER_MAINTENANCE,
      leaseMs: e.WORKER_LEASE_MS,
      pollMs: e.WORKER_POLL_MS,
      /** Rows per erasure batch (src/privacy/erasureJob.ts). */
      erasureBatch: e.WORKER_ERASURE_BATCH,
      /** Serve GET /metrics on this port (0 = any free port); unset = no metrics endpoint. */
      metricsPort: e.WORKER_METRICS_PORT,
      /** How often each maintenance task runs (see MaintenanceIntervals in src/worker/maintenance.ts). */
      intervals: {
        gcSec: e.WORKER_GC_INTERVAL_SEC,
        decaySec: e.WORKER_DECAY_INTERVAL_SEC,
        gapSec: e.WORKER_GAP_INTERVAL_SEC,
        analyzeSec: e.WORKER_ANALYZE_CHECK_SEC,
        rolloutsSec: e.WORKER_ROLLOUT_CHECK_SEC,
        vectorIndexSec: e.WORKER_VECTOR_INDEX_CHECK_SEC,
        vectorRecallSec: e.WORKER_VECTOR_RECALL_INTERVAL_SEC,
      },
    },
    /** The ops console: alert thresholds and long-running actions. */
    ops: {
      alerts,
      /** An index rebuild is one statement; it gets this timeout instead of the 5 s of batches. */
      indexBuildTimeoutMs: e.OPS_INDEX_BUILD_TIMEOUT_MS,
      /** How often request telemetry (kernel latency, flag exposure) is written. */
      telemetryFlushMs: e.TELEMETRY_FLUSH_MS,
    },
    /** Feature flags: how often each process re-reads them, and how rollouts are judged. */
    flags: {
      refreshSec: e.FLAGS_REFRESH_SEC,
      /** evaluateRollouts looks at this much recent traffic (and only since the last rollout change). */
      evaluationWindowSec: e.FLAGS_EVALUATION_WINDOW_SEC,
      /** Exposed requests needed before error rate and latency are judged. */
      minRequests: e.FLAGS_MIN_REQUESTS,
      /** Server errors counted per user and flag variant at most; one caller's flood weighs no more. */
      maxErrorsPerUser: e.FLAGS_MAX_ERRORS_PER_USER,
      /** Distinct users with server errors needed before the error rate can roll a flag back. */
      minAffectedUsers: e.FLAGS_MIN_AFFECTED_USERS,
    },
    /** Most interests one user may have. */
    maxInterests: e.MAX_INTERESTS,
    /** Writes per user per minute, by action (shared by all instances through Redis). */
    rateLimits: {
      /** Off only to measure their cost (npm run bench) or in an emergency; never unlimited by accident. */
      enabled: e.RATE_LIMITS_ENABLED,
      like: e.RATE_LIMIT_LIKES_PER_MIN,
      comment: e.RATE_LIMIT_COMMENTS_PER_MIN,
      follow: e.RATE_LIMIT_FOLLOWS_PER_MIN,
      interest: e.RATE_LIMIT_INTERESTS_PER_MIN,
      signal: e.RATE_LIMIT_SIGNALS_PER_MIN,
      hide: e.RATE_LIMIT_HIDES_PER_MIN,
      feedback: e.RATE_LIMIT_FEEDBACK_PER_MIN,
      /** Admin operations (ops actions, flags, experiments), shared. */
      admin: e.RATE_LIMIT_ADMIN_PER_MIN,
      /** Catalogue batches per service caller or admin. */
      catalog: e.RATE_LIMIT_CATALOG_PER_MIN,
      /**
       * Gateway instances expected to share the limits: while Redis is unavailable each instance allows
       * at most ⌊limit / expectedInstances⌋ per window on its own (docs/security.md).
       */
      expectedInstances: e.RATE_LIMIT_EXPECTED_INSTANCES,
      /** suggestions pages per client (user, or anonymous client address) per minute. */
      feed: e.RATE_LIMIT_FEED_PER_MIN,
      /** Other costly reads (search, listings, vectors) per client per minute. */
      read: e.RATE_LIMIT_READS_PER_MIN,
      /** Privacy exports per user per hour (the one budget counted by the hour, BUDGET_WINDOW_MS). */
      export: e.RATE_LIMIT_EXPORTS_PER_HOUR,
      /** deleteMyAccount calls per user per minute. */
      account: e.RATE_LIMIT_ACCOUNT_PER_MIN,
    },
    /** The Redis-backed feature store (see src/features/featureStore.ts for each option). */
    features: {
      ttlSec: e.FEATURE_TTL_SEC,
      ttlJitter: e.FEATURE_TTL_JITTER,
      earlyRefreshBeta: e.FEATURE_EARLY_REFRESH_BETA,
      breakerFailures: e.FEATURE_BREAKER_FAILURES,
      breakerOpenMs: e.FEATURE_BREAKER_OPEN_MS,
    },
    auth: {
      jwtSecret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      /**
       * The audience of service tokens (JWT_SERVICE_AUDIENCE): a token for it is a service caller; a token
       * for `audience` is a person, whatever its role claim says. Never equal to `audience`.
       */
      serviceAudience: e.JWT_SERVICE_AUDIENCE,
      clockToleranceSec: e.JWT_CLOCK_TOLERANCE_SEC,
      /** How long a person's role read from profiles.role is reused by this process (0 = every request). */
      roleCacheMs: e.AUTH_ROLE_CACHE_MS,
    },
    graphql: {
      introspection: e.GRAPHQL_INTROSPECTION ?? !production,
      /** Serve the in-browser GraphQL IDE (GraphiQL) at /graphiql. */
      ide: e.GRAPHQL_IDE ?? !production,
      /** Serve the web feed page at /demo (src/server/demo.ts). */
      demoPage: e.DEMO_PAGE ?? !production,
      /** Serve the ops console at /console (src/server/console.ts). */
      consolePage: e.CONSOLE_PAGE ?? !production,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxComplexity: e.GRAPHQL_MAX_COMPLEXITY,
      /** Most field selections per operation once fragments are expanded. */
      maxFields: e.GRAPHQL_MAX_FIELDS,
      /** Leave graphql-js's "Did you mean …?" suggestions out of every error (production). */
      hideSuggestions: production || e.GRAPHQL_INTROSPECTION === false,
      /** A persisted query manifest: only its operations run (src/server/persistedOperations.ts). */
      trustedDocuments: e.GRAPHQL_TRUSTED_DOCUMENTS,
      /** Seconds an automatic persisted query stays in Redis. */
      apqTtlSec: e.GRAPHQL_APQ_TTL_SEC,
      /** max-age of anonymous GET queries of public data; 0 = never public. */
      publicMaxAgeSec: e.GRAPHQL_PUBLIC_MAX_AGE_SEC,
    },
    feed: {
      /** Which exploration policy serves the feed. */
      policy: e.FEED_POLICY,
      /** ε-greedy: the share of slots filled from the exploration pools. */
      epsilon: e.FEED_EPSILON,
      /** Thompson sampling: how often the posteriors are rebuilt from learning events. */
      posteriorRefreshSec: e.FEED_POSTERIOR_REFRESH_SEC,
      /** Listings served to a viewer within this many minutes are not served again. */
      servedWindowMinutes: e.FEED_SERVED_WINDOW_MINUTES,
      /** Seconds a viewer's personal candidates are reused (feed_viewer_candidates); 0 = no cache. */
      candidateCacheSec: e.FEED_CANDIDATE_CACHE_SEC,
      /** Seconds a process keeps a viewer's ranked candidates for their next pages (0 = never). */
      candidateMemorySec: e.FEED_CANDIDATE_MEMORY_SEC,
      /** Most viewers whose candidates a process keeps. */
      candidateMemoryViewers: e.FEED_CANDIDATE_MEMORY_VIEWERS,
      /** Seconds between redraws of a process's exploration sample (src/feed/explorationSample.ts). */
      exploreSampleSec: e.FEED_EXPLORE_SAMPLE_SEC,
      /** Most of one category on a page, as a share of the page size. */
      categoryShare: e.FEED_CATEGORY_SHARE,
      /** Whether a category may take the viewer's own share of their likes when above categoryShare. */
      categoryShareFromLikes: e.FEED_CATEGORY_SHARE_FROM_LIKES,
      /** The first this-many places of a page show exploit items; exploration goes below them. */
      exploitTopSlots: e.FEED_EXPLOIT_TOP_SLOTS,
      /** Key that signs feed cursors; defaults to JWT_SECRET, else a per-process random key. */
      cursorSecret: e.FEED_CURSOR_SECRET,
      /** The experiment whose arms choose each viewer's feed policy (when it exists and is active). */
      experimentKey: e.FEED_EXPERIMENT,
      /** How often the experiment definitions are re-read from the database. */
      experimentRefreshSec: e.FEED_EXPERIMENT_REFRESH_SEC,
      /** A like within this many minutes of an impression of the listing rewards that impression. */
      likeAttributionMinutes: e.FEED_LIKE_ATTRIBUTION_MINUTES,
      /** Interest drift recomputes a viewer's profile embedding at most once per this many seconds. */
      profileRecomputeSec: e.FEED_PROFILE_RECOMPUTE_SEC,
      /** Profiles blend engagement with interests (lodestar.profile_behaviour); false = interests only. */
      profileBehaviour: e.FEED_PROFILE_BEHAVIOUR,
      /** How personalised candidates are ordered: learned weights, the fixed defaults, or similarity only. */
      ranker: e.FEED_RANKER,
      /** Logged impressions with features needed before the worker trains ranking weights. */
      rankerMinEvents: e.FEED_RANKER_MIN_EVENTS,
      /** FEED_RANKER_WEIGHTS: the fixed weights that replace the defaults' ({} = the defaults). */
      rankerWeights: e.FEED_RANKER_WEIGHTS ?? {},
      /** Candidates per page from co-engagement with the viewer's recent likes; 0 = none. */
      coengagementCandidates: e.FEED_COENGAGEMENT_CANDIDATES,
    },
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    /** A verified service token's body limit (never below bodyLimitBytes). */
    serviceBodyLimitBytes: Math.max(e.SERVICE_BODY_LIMIT_BYTES, e.BODY_LIMIT_BYTES),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    /**
     * Reverse proxies whose X-Forwarded-For is believed (IPs / CIDRs; Fastify trustProxy): the client
     * address of a request is the socket peer unless the peer is one of these. Empty: never believed.
     */
    trustedProxies: e.TRUSTED_PROXIES,
    tracing: tracingFrom(e),
  };
}

/**
 * OpenTelemetry tracing from the standard OTEL_* variables: on when an exporter is chosen or an OTLP
 * endpoint is set (and OTEL_SDK_DISABLED is not), off otherwise. src/telemetry/register.ts starts it.
 */
function tracingFrom(e: EnvVars) {
  const exporter =
    e.OTEL_TRACES_EXPORTER ??
    (e.OTEL_EXPORTER_OTLP_ENDPOINT || e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : 'none');
  const base = (e.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(/\/+$/, '');
  return {
    enabled: !e.OTEL_SDK_DISABLED && exporter !== 'none',
    exporter,
    /** Where spans are posted (OTLP/HTTP). */
    url: e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${base}/v1/traces`,
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL,
    headers: e.OTEL_EXPORTER_OTLP_HEADERS ?? {},
    /** OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME wins over a `service.name` here. */
    resourceAttributes: e.OTEL_RESOURCE_ATTRIBUTES ?? {},
    timeoutMs: e.OTEL_EXPORTER_OTLP_TIMEOUT,
    serviceName: e.OTEL_SERVICE_NAME,
    sampler: e.OTEL_TRACES_SAMPLER,
    samplerRatio: e.OTEL_TRACES_SAMPLER_ARG ?? 1,
    /** Continue a caller's traceparent (tracecontext) or ignore it (none). */
    propagation: e.OTEL_PROPAGATORS,
    /** A resolver whose field costs at least this gets its own span. */
    resolverMinCost: e.TRACE_RESOLVER_MIN_COST,
  };
}
