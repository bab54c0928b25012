import { describe, expect, it } from 'vitest';
import { EMBEDDING_DIMENSIONS } from '../validation/embedding.js';
import {
  CatalogRowError,
  checkBatch,
  checkInterest,
  checkListing,
  checkStatusChange,
  checkUser,
  sourceProblem,
} from './rows.js';

const vector = (): number[] => Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => (i % 7) - 3);
const listing = (over: Record<string, unknown> = {}) => ({
  externalId: 'sku-1',
  title: 'Desk lamp',
  price: '19.99',
  category: 'home',
  embedding: vector(),
  ...over,
});

describe('checkListing', () => {
  it('fills defaults: USD, active, no description, no seller, no timestamp', () => {
    const checked = checkListing(listing({ embedding: undefined }));
    expect(checked).toEqual({
      ok: true,
      row: {
        externalId: 'sku-1',
        title: 'Desk lamp',
        description: '',
        price: '19.99',
        currency: 'USD',
        categorySlug: 'home',
        seller: null,
        status: 'active',
        embedding: null,
        createdAt: null,
      },
    });
  });

  it('reads CSV-style cells: numbers as text, the embedding as JSON, the status in any case', () => {
    const checked = checkListing(listing({ price: 5, embedding: JSON.stringify(vector()), status: 'SOLD' }));
    expect(checked.ok && checked.row).toMatchObject({ price: '5', status: 'sold', embedding: vector() });
  });

  it.each([
    [{ externalId: '' }, 'externalId', 'must not be empty'],
    [{ externalId: 'x'.repeat(201) }, 'externalId', 'at most 200'],
    [{ title: 'bad\u0000title' }, 'title', 'NUL'],
    [{ title: 'two\nlines' }, 'title', 'control character'],
    [{ price: '-1' }, 'price', 'non-negative'],
    [{ price: '1.999' }, 'price', '2 decimals'],
    [{ price: 1e21 }, 'price', 'non-negative'],
    [{ currency: 'usd' }, 'currency', 'ISO 4217'],
    [{ category: 'Home Goods' }, 'category', 'category slug'],
    [{ sellerId: 'not-a-uuid' }, 'sellerId', 'uuid'],
    [{ sellerId: '7d3f0f5e-8d38-4a8f-9b3c-2f8a3a7f6c11', sellerExternalId: 'u1' }, 'sellerId', 'not both'],
    [{ status: 'deleted' }, 'status', 'one of active, sold, inactive, removed'],
    [{ embedding: [1, 2] }, 'embedding', `${EMBEDDING_DIMENSIONS} numbers, got 2`],
    [{ embedding: '[1,2' }, 'embedding', 'JSON array'],
    [{ embedding: vector().map(() => 0) }, 'embedding', 'all zeros'],
    [{ createdAt: 'yesterday' }, 'createdAt', 'ISO 8601'],
    [{ createdAt: '1970-01-02T00:00:00Z' }, 'createdAt', 'before 1995'],
    [{ createdAt: '2999-01-01T00:00:00Z' }, 'createdAt', 'future'],
  ])('refuses %o, naming %s', (over, field, message) => {
    const checked = checkListing(listing(over));
    expect(checked.ok).toBe(false);
    if (!checked.ok) {
      expect(checked.problem.field).toBe(field);
      expect(checked.problem.message).toContain(message);
    }
  });
});

describe('checkBatch', () => {
  it('names the first bad row and its field', () => {
    const call = () => checkBatch([listing(), listing({ externalId: 'sku-2', price: 'free' })], checkListing);
    expect(call).toThrow(CatalogRowError);
    expect(call).toThrow(expect.objectContaining({ index: 1, field: 'price' }));
  });

  it('refuses an external id given twice in one batch', () => {
    expect(() => checkBatch([listing(), listing()], checkListing)).toThrow(
      expect.objectContaining({ index: 1, field: 'externalId', problem: "repeats row 0's" }),
    );
  });

  it('checks a 10k-row batch row by row', () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => listing({ externalId: `sku-${i}` }));
    expect(checkBatch(rows, checkListing)).toHaveLength(10_000);
  });
});

describe('interests, people, status changes and sources', () => {
  it('checks interests', () => {
    expect(checkInterest({ externalId: 'i1', slug: 'lamps', name: 'Lamps', category: 'home' }).ok).toBe(true);
    const bad = checkInterest({ externalId: 'i1', slug: 'Lamps!', name: 'Lamps', category: 'home' });
    expect(!bad.ok && bad.problem.field).toBe('slug');
  });

  it('checks people; the display name defaults to the handle', () => {
    const checked = checkUser({ externalId: 'u1', handle: 'ada_l' });
    expect(checked.ok && checked.row.displayName).toBe('ada_l');
    const bad = checkUser({ externalId: 'u1', handle: 'A' });
    expect(!bad.ok && bad.problem.field).toBe('handle');
  });

  it('requires a status on a status change', () => {
    const bad = checkStatusChange({ externalId: 'sku-1' });
    expect(!bad.ok && bad.problem).toEqual({ field: 'status', message: 'is required' });
  });

  it.each([
    ['shopify', null],
    ['legacy_erp-2', null],
    ['Shopify', 'lower-case'],
    ['1shop', 'lower-case'],
    ['x'.repeat(33), 'lower-case'],
    [42, 'lower-case'],
  ])('source %s', (source, problem) => {
    const result = sourceProblem(source);
    if (problem === null) expect(result).toBeNull();
    else expect(result).toContain(problem);
  });
});
