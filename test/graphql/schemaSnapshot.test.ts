import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printSchemaFile, schemaFilePath } from '../../src/schema/printSchemaFile.js';

/** The body of one `type Name { ... }` block of the printed schema (fields and their arguments). */
function typeBlock(printed: string, name: string): string {
  const match = new RegExp(`^type ${name} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(printed);
  expect(match, `type ${name} is missing from the printed schema`).not.toBeNull();
  return match![1]!;
}

/** The arguments and return type of one Query field, whitespace-normalised: `(after: String, ...): T!`. */
function queryField(printed: string, field: string): string {
  const block = typeBlock(printed, 'Query').replace(/"""[\s\S]*?"""/g, '');
  const match = new RegExp(`^  ${field}(\\([^)]*\\))?: ([^\\n]+)$`, 'm').exec(block);
  expect(match, `Query.${field} is missing from the printed schema`).not.toBeNull();
  const args = [...(match![1] ?? '').matchAll(/(\w+): ([\w![\]]+)/g)].map((m) => `${m[1]}: ${m[2]}`);
  return `${args.length > 0 ? `(${args.join(', ')})` : ''}: ${match![2]}`;
}

describe('schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema:print` to update it)', async () => {
    const committed = await readFile(schemaFilePath, 'utf8');
    expect(
      committed,
      'schema.graphql is out of date with src/schema: run `npm run schema:print` and commit the result',
    ).toBe(printSchemaFile());
  });

  it('is printed deterministically, ending in exactly one newline', () => {
    const printed = printSchemaFile();
    expect(printSchemaFile()).toBe(printed);
    expect(printed.endsWith('}\n')).toBe(true);
    expect(printed.endsWith('\n\n')).toBe(false);
  });

  describe('the contract clients rely on', () => {
    const printed = printSchemaFile();

    it('keeps the Relay arguments and connection types of listings and interests', () => {
      expect(queryField(printed, 'listings')).toBe(
        '(after: String, before: String, category: String, first: Int, last: Int, status: ListingStatus): ListingConnection!',
      );
      expect(queryField(printed, 'interests')).toBe(
        '(after: String, before: String, first: Int, last: Int, search: String): InterestConnection!',
      );
      for (const conn of ['ListingConnection', 'InterestConnection']) {
        expect(typeBlock(printed, conn)).toMatch(/^ {2}pageInfo: PageInfo!$/m);
      }
      expect(typeBlock(printed, 'PageInfo').replace(/\s+/g, ' ').trim()).toBe(
        'endCursor: String hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String',
      );
    });

    it('keeps the nullable lookups and the viewer entry point', () => {
      expect(queryField(printed, 'me')).toBe(': Viewer');
      expect(queryField(printed, 'listing')).toBe('(id: ID!): Listing');
      expect(queryField(printed, 'profile')).toBe('(handle: String!): Profile');
      expect(queryField(printed, 'categories')).toBe(': [Category!]!');
      expect(queryField(printed, 'schemaMigrations')).toBe(': MigrationStatus!');
    });

    it('keeps prices as Decimal strings and the status and role enums', () => {
      expect(typeBlock(printed, 'Listing')).toMatch(/^ {2}price: Decimal!$/m);
      expect(printed).toMatch(/^scalar Decimal$/m);
      expect(printed).toMatch(
        /^enum ListingStatus \{\n {2}ACTIVE\n {2}INACTIVE\n {2}REMOVED\n {2}SOLD\n\}$/m,
      );
      expect(printed).toMatch(/^enum Role \{\n {2}ADMIN\n {2}SERVICE\n {2}USER\n\}$/m);
    });

    it('exposes no private profile data on the public Profile type', () => {
      const profile = typeBlock(printed, 'Profile');
      expect(profile).not.toMatch(/\b(role|interests|embedding\w*):/);
    });
  });
});
