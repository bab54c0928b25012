import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { createSchema } from './index.js';

/** schema.graphql at the repository root: its diff is the API review. */
export const schemaFilePath = fileURLToPath(new URL('../../schema.graphql', import.meta.url));

export function printSchemaFile(): string {
  return `${printSchema(lexicographicSortSchema(createSchema()))}\n`;
}
