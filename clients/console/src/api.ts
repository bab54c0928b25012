import type { ResultOf, VariablesOf } from 'gql.tada';
import manifest from '../manifest.json';
import type * as Operations from '../operations.js';

/** Every console operation by name (clients/console/operations/*.graphql, `npm run client:generate`). */
export type OperationName = keyof typeof Operations;
export type Result<N extends OperationName> = ResultOf<(typeof Operations)[N]>;
export type Variables<N extends OperationName> = VariablesOf<(typeof Operations)[N]>;

const byName = new Map(manifest.operations.map((op) => [op.name, op]));

export class RequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

export interface Session {
  endpoint: string;
  token: string;
}

/**
 * One GraphQL request through the public API with the admin's token: the operation's manifest id first
 * (so a trusted-documents gateway runs it), the document only when the gateway does not know the id yet
 * (PERSISTED_QUERY_NOT_FOUND: automatic persisted queries).
 */
export async function run<N extends OperationName>(
  session: Session,
  name: N,
  variables: Variables<N>,
): Promise<Result<N>> {
  const operation = byName.get(name);
  if (!operation) throw new RequestError(`unknown operation ${name}`, 'CONSOLE_BUILD');
  const send = async (withDocument: boolean) => {
    const response = await fetch(session.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
      body: JSON.stringify({
        operationName: name,
        variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: operation.id } },
        ...(withDocument ? { query: operation.body } : {}),
      }),
    });
    const text = await response.text();
    try {
      return JSON.parse(text) as { data?: Result<N> | null; errors?: GraphQLError[] };
    } catch {
      throw new RequestError(`the gateway answered ${response.status} without JSON`, 'HTTP_ERROR');
    }
  };
  let result = await send(false);
  if (result.errors?.some((e) => e.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND'))
    result = await send(true);
  const [error] = result.errors ?? [];
  if (error || !result.data) {
    throw new RequestError(error?.message ?? 'no data in the response', error?.extensions?.code ?? 'UNKNOWN');
  }
  return result.data;
}
