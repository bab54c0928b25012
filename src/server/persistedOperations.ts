import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ApolloServerPlugin, GraphQLRequestContext } from '@apollo/server';
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import {
  Kind,
  OperationTypeNode,
  parse,
  print,
  validate,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Context } from '../context.js';
import { createError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import type { RedisClient } from '../platform/redis.js';

/**
 * Persisted operations (issue #21, docs/clients.md): automatic persisted queries (APQ: the
 * `extensions.persistedQuery.sha256Hash` protocol of Apollo Client and urql), whose hash → document map
 * lives in Redis and in a bounded in-process cache, and a trusted-documents mode in which only the
 * operations of a manifest run.
 */

/** The id of a document: the SHA-256 of its text, hex (what APQ clients send and manifests list). */
export const documentId = (body: string): string => createHash('sha256').update(body).digest('hex');

/** In-process share of the APQ map: at most this many bytes of document text, least recently used out. */
const MEMORY_BYTES = 16 * 1024 * 1024;
/**
 * Longest document the map keeps, in characters (comments do not count towards GRAPHQL_MAX_TOKENS, so a
 * valid document can be as large as the body limit): a bigger one runs, but is not remembered, so no
 * client can fill Redis with its documents. Real client operations are a few kB.
 */
export const MAX_PERSISTED_DOCUMENT = 32 * 1024;
/** Bump when the stored value's meaning changes. */
const REDIS_KEY_PREFIX = 'pq:v1:';

/**
 * The APQ map: read from process memory first, then Redis (shared by every gateway, so a document
 * registered on one is found on all); written to both, in Redis with a TTL so the map stays bounded.
 * Redis away or failing only leaves each process its own memory: APQ keeps working, a client registering
 * a document again on a miss (the protocol's own retry).
 */
export function createPersistedQueryCache(redis: RedisClient | null, logger: Logger): KeyValueCache<string> {
  const memory = new InMemoryLRUCache<string>({
    maxSize: MEMORY_BYTES,
    sizeCalculation: (value) => Math.max(1, value.length),
  });
  const usable = () => redis !== null && redis.status === 'ready';
  const warn = (error: unknown) =>
    logger.warn({ err: error }, 'persisted queries: Redis failed; memory only');
  return {
    get: async (key) => {
      const held = await memory.get(key);
      if (held !== undefined || !usable()) return held;
      try {
        const stored = await redis!.get(REDIS_KEY_PREFIX + key);
        if (stored === null) return undefined;
        await memory.set(key, stored);
        return stored;
      } catch (error) {
        warn(error);
        return undefined;
      }
    },
    set: async (key, value, options) => {
      if (value.length > MAX_PERSISTED_DOCUMENT) return;
      await memory.set(key, value, options);
      if (!usable()) return;
      const ttlSec = options?.ttl ?? null;
      await (
        ttlSec === null
          ? redis!.set(REDIS_KEY_PREFIX + key, value)
          : redis!.set(REDIS_KEY_PREFIX + key, value, 'EX', Math.max(1, Math.round(ttlSec)))
      ).catch(warn);
    },
    delete: async (key) => {
      const deleted = await memory.delete(key);
      if (usable()) await redis!.del(REDIS_KEY_PREFIX + key).catch(warn);
      return deleted;
    },
  };
}

/** A trusted-documents manifest: id → document text. */
export type TrustedDocuments = ReadonlyMap<string, string>;

interface ManifestOperation {
  id: string;
  name?: string;
  type?: string;
  body: string;
}

/**
 * Reads a manifest in Apollo's persisted query manifest format (`{ format: "apollo-persisted-query-manifest",
 * version: 1, operations: [{ id, name, type, body }] }`, what `npm run persisted:manifest` writes). Every
 * id must be the SHA-256 of its body: a manifest edited by hand cannot smuggle in a different document.
 * Throws a message naming what is wrong (the gateway refuses to start).
 */
export function loadTrustedDocuments(path: string): TrustedDocuments {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`GRAPHQL_TRUSTED_DOCUMENTS: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const manifest = parsed as { format?: unknown; version?: unknown; operations?: unknown };
  if (manifest.format !== 'apollo-persisted-query-manifest' || manifest.version !== 1) {
    throw new Error(
      `GRAPHQL_TRUSTED_DOCUMENTS: ${path} is not an apollo-persisted-query-manifest of version 1`,
    );
  }
  if (!Array.isArray(manifest.operations)) {
    throw new Error(`GRAPHQL_TRUSTED_DOCUMENTS: ${path} has no operations list`);
  }
  const documents = new Map<string, string>();
  for (const [i, entry] of (manifest.operations as ManifestOperation[]).entries()) {
    if (typeof entry?.id !== 'string' || typeof entry.body !== 'string') {
      throw new Error(`GRAPHQL_TRUSTED_DOCUMENTS: operation ${i} in ${path} needs a string id and body`);
    }
    if (documentId(entry.body) !== entry.id) {
      throw new Error(
        `GRAPHQL_TRUSTED_DOCUMENTS: operation ${i} (${entry.name ?? 'unnamed'}) in ${path}: its id is not the SHA-256 of its body`,
      );
    }
    documents.set(entry.id, entry.body);
  }
  return documents;
}

/** What stands in for a refused document, so nothing of it is parsed or run. */
const PLACEHOLDER = '{ __typename }';

/**
 * Refuses a request from requestDidStart: its document is replaced before Apollo reads it (nothing of
 * it is parsed or run), and `error` answers once Apollo reaches the operation.
 */
function refuseRequest(request: { query?: string }, error: () => Error) {
  request.query = PLACEHOLDER;
  return {
    didResolveOperation: async () => {
      throw error();
    },
  };
}

/** What Apollo Client, urql and Relay send: version 1 and the document's SHA-256 as 64 lower-case hex digits. */
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * APQ mode: a persisted-query extension that is not `{ version: 1, sha256Hash: <64 hex digits> }` is a
 * 400 BAD_REQUEST naming the shape. Apollo's own handling would read a hash in an array (["ab…"]) as the
 * hash itself and run the stored document, and answer a number, an object or null with
 * PERSISTED_QUERY_NOT_FOUND, which tells a client to send the document again as if all were well.
 */
export function persistedQueryShapePlugin(): ApolloServerPlugin<Context> {
  return {
    requestDidStart: async ({ request }) => {
      if (request.extensions === undefined || !('persistedQuery' in request.extensions)) return;
      const persisted: unknown = request.extensions.persistedQuery;
      const { version, sha256Hash } =
        typeof persisted === 'object' && persisted !== null && !Array.isArray(persisted)
          ? (persisted as { version?: unknown; sha256Hash?: unknown })
          : {};
      if (version === 1 && typeof sha256Hash === 'string' && SHA256_HEX.test(sha256Hash)) return;
      delete request.extensions.persistedQuery;
      return refuseRequest(request, () =>
        createError(
          'BAD_REQUEST',
          'extensions.persistedQuery must be { "version": 1, "sha256Hash": "<the document\'s SHA-256, ' +
            '64 lower-case hex digits>" }',
        ),
      );
    },
  };
}

/**
 * Trusted-documents mode: an operation runs only when it is in the manifest, sent by its id
 * (`extensions.persistedQuery.sha256Hash`, with or without its text) or as its exact text. An unknown id
 * is TRUSTED_DOCUMENT_NOT_FOUND, any other document TRUSTED_DOCUMENTS_ONLY (both HTTP 400). The request's
 * document is replaced before Apollo reads it, so a refused document is never parsed.
 */
export function trustedDocumentsPlugin(documents: TrustedDocuments): ApolloServerPlugin<Context> {
  return {
    requestDidStart: async ({ request }) => {
      // The persisted query extension is answered here, from the manifest, and never reaches Apollo's APQ
      // (off in this mode): whatever its shape, only an id of the manifest runs a document.
      const hasPersisted = request.extensions !== undefined && 'persistedQuery' in request.extensions;
      const persisted: unknown = hasPersisted ? request.extensions!.persistedQuery : undefined;
      if (hasPersisted) {
        delete request.extensions!.persistedQuery;
        const hash =
          typeof persisted === 'object' && persisted !== null
            ? (persisted as { sha256Hash?: unknown }).sha256Hash
            : undefined;
        const known = typeof hash === 'string' ? documents.get(hash) : undefined;
        if (known !== undefined) {
          request.query = known;
          return;
        }
        const shown =
          typeof hash === 'string' ? hash.slice(0, 64) : JSON.stringify(hash ?? null).slice(0, 64);
        return refuseRequest(request, () =>
          createError(
            'TRUSTED_DOCUMENT_NOT_FOUND',
            `no trusted document has the id ${shown}: this gateway runs only the operations in its manifest`,
          ),
        );
      }
      if (typeof request.query === 'string' && !documents.has(documentId(request.query))) {
        return refuseRequest(request, () =>
          createError(
            'TRUSTED_DOCUMENTS_ONLY',
            'this gateway runs only the operations in its trusted-documents manifest: send a document id ' +
              '(extensions.persistedQuery.sha256Hash) from the manifest (docs/clients.md)',
          ),
        );
      }
    },
  };
}

/**
 * Root query fields an anonymous caller gets the same answer from as every other anonymous caller:
 * public catalogue data that a shared cache may keep for a while.
 */
const PUBLIC_ROOT_FIELDS = new Set([
  'categories',
  'interests',
  'listing',
  'listings',
  'profile',
  'similarListings',
  '__typename',
]);

/**
 * The Cache-Control a response may carry: `public, max-age` only for a GET query, from an anonymous
 * caller, that asks only for public root fields and succeeded; `private, no-store` for everything else
 * (personalised, written, failed).
 */
export function cacheControlOf(
  context: Pick<GraphQLRequestContext<Context>, 'request' | 'operation' | 'contextValue' | 'errors'>,
  publicMaxAgeSec: number,
): string {
  const notStored = 'private, no-store';
  if (publicMaxAgeSec <= 0) return notStored;
  const { request, operation, contextValue, errors } = context;
  if (request.http?.method !== 'GET' || contextValue.viewer.role !== 'anonymous') return notStored;
  if ((errors?.length ?? 0) > 0 || !isPublicQuery(operation)) return notStored;
  return `public, max-age=${publicMaxAgeSec}`;
}

/** Caches keep a public answer apart from the same URL asked with a token (signed in: never public). */
export const PUBLIC_VARY = 'authorization';

function isPublicQuery(operation: OperationDefinitionNode | undefined): boolean {
  if (operation?.operation !== OperationTypeNode.QUERY) return false;
  return operation.selectionSet.selections.every(
    (selection) => selection.kind === Kind.FIELD && PUBLIC_ROOT_FIELDS.has(selection.name.value),
  );
}

/** A trusted-documents manifest as `npm run persisted:manifest` writes it (Apollo's format). */
export interface PersistedManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: { id: string; name: string; type: 'query' | 'mutation' | 'subscription'; body: string }[];
}

/**
 * The manifest of a client's `.graphql` files: one entry per named operation, its body the operation
 * printed with every fragment it uses (transitively, by name, in name order), its id that body's SHA-256.
 * Operation and fragment names must be unique across the files; anonymous operations are refused (a
 * client could not ask for one by name). With `schema`, every operation must validate against it, so a
 * manifest never lists a document the gateway refuses. Throws a message naming the file or operation.
 */
export function buildPersistedManifest(
  sources: readonly { path: string; text: string }[],
  schema?: GraphQLSchema,
): PersistedManifest {
  const fragments = new Map<string, { node: FragmentDefinitionNode; path: string }>();
  const operations: { node: OperationDefinitionNode; path: string }[] = [];
  for (const { path, text } of sources) {
    let document;
    try {
      document = parse(text);
    } catch (error) {
      throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
    }
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        const name = definition.name.value;
        const seen = fragments.get(name);
        if (seen) throw new Error(`${path}: fragment ${name} is also defined in ${seen.path}`);
        fragments.set(name, { node: definition, path });
      } else if (definition.kind === Kind.OPERATION_DEFINITION) {
        if (!definition.name) throw new Error(`${path}: every operation needs a name`);
        operations.push({ node: definition, path });
      } else {
        throw new Error(`${path}: only operations and fragments belong in a client's documents`);
      }
    }
  }
  const names = new Map<string, string>();
  const entries = operations.map(({ node, path }) => {
    const name = node.name!.value;
    const seen = names.get(name);
    if (seen) throw new Error(`${path}: operation ${name} is also defined in ${seen}`);
    names.set(name, path);
    const used = new Set<string>();
    const visit = (selections: SelectionSetNode) => {
      const stack = [selections];
      while (stack.length > 0) {
        for (const selection of stack.pop()!.selections) {
          if (selection.kind === Kind.FRAGMENT_SPREAD) {
            const fragment = selection.name.value;
            if (used.has(fragment)) continue;
            const found = fragments.get(fragment);
            if (!found) throw new Error(`${path}: operation ${name} uses the unknown fragment ${fragment}`);
            used.add(fragment);
            stack.push(found.node.selectionSet);
          } else if (selection.selectionSet) stack.push(selection.selectionSet);
        }
      }
    };
    visit(node.selectionSet);
    const body = [print(node), ...[...used].sort().map((f) => print(fragments.get(f)!.node))].join('\n\n');
    return { id: documentId(body), name, type: node.operation, body };
  });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  if (schema) {
    for (const entry of entries) {
      const problems = validate(schema, parse(entry.body));
      if (problems.length > 0) {
        throw new Error(`operation ${entry.name}: ${problems.map((p) => p.message).join('; ')}`);
      }
    }
  }
  return { format: 'apollo-persisted-query-manifest', version: 1, operations: entries };
}
