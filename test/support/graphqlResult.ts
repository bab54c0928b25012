import type { ExecutionResult } from 'graphql';
import { expect } from 'vitest';

/** The result's data, after asserting the operation raised no error at all. */
export function dataOf<T>(result: ExecutionResult<T>): T {
  expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
  expect(result.data).toBeTruthy();
  return result.data as T;
}

/** The single error of a result, after asserting its `extensions.code`. */
export function expectErrorCode(
  result: ExecutionResult<unknown>,
  code: string,
): { message: string; extensions: Record<string, unknown> } {
  expect(result.errors, `expected a ${code} error, got data ${JSON.stringify(result.data)}`).toBeDefined();
  const errors = result.errors ?? [];
  expect(errors.map((e) => e.extensions?.code)).toEqual([code]);
  const error = errors[0]!;
  return { message: error.message, extensions: { ...error.extensions } };
}

/** A cursor as the server would encode it, with arbitrary (possibly tampered) content. */
export function cursorOf(payload: unknown): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}
