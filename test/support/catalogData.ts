import { insertProfile, type Queryable } from './fixtures.js';

export type CatalogStatus = 'active' | 'sold' | 'inactive';

/** Listing i's status: every 5th (from 3) sold, every 7th (from 6) inactive, the rest active (31 of 45). */
export const catalogStatusOf = (i: number): CatalogStatus =>
  i % 5 === 3 ? 'sold' : i % 7 === 6 ? 'inactive' : 'active';

/** Interests inserted in this order; popularity ties are broken by id (= insertion order). */
export const catalogInterests: readonly (readonly [name: string, popularity: number])[] = [
  ['Electronics gadgets', 50],
  ['Chess openings', 30],
  ['Retro electronics', 30],
  ['Board games', 30],
  ['Poetry', 10.1],
  ['Origami', 10.1],
  ['Novels', 10.1],
  ['Comics', 5],
  ['Kites', 0],
];

export interface CatalogData {
  /** By slug: toys ('Toys'), books ('Books'), electronics ('Electronics'), inserted in that order. */
  categoryIds: Record<'toys' | 'books' | 'electronics', number>;
  /**
   * 45 listings in insertion (= id) order: listing i is in category ['toys', 'books', 'electronics'][i % 3],
   * sold by ['seller_one', 'seller_two', 'seller_three'][i % 3], titled `Listing ${i}`, priced i + 1.50,
   * with status catalogStatusOf(i).
   */
  listingIds: number[];
}

export async function seedCatalog(q: Queryable): Promise<CatalogData> {
  const categoryIds = { toys: 0, books: 0, electronics: 0 };
  for (const [slug, name] of [
    ['toys', 'Toys'],
    ['books', 'Books'],
    ['electronics', 'Electronics'],
  ] as const) {
    const { rows } = await q.query<{ id: number }>(
      'INSERT INTO categories (slug, name) VALUES ($1, $2) RETURNING id',
      [slug, name],
    );
    categoryIds[slug] = rows[0]!.id;
  }
  const categoryOrder = [categoryIds.toys, categoryIds.books, categoryIds.electronics];
  const sellers = [
    await insertProfile(q, { handle: 'seller_one' }),
    await insertProfile(q, { handle: 'seller_two' }),
    await insertProfile(q, { handle: 'seller_three' }),
  ];
  const listingIds: number[] = [];
  for (let i = 0; i < 45; i += 1) {
    const { rows } = await q.query<{ id: number }>(
      `INSERT INTO marketplace_listings (category_id, seller_id, title, price, status)
       VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [categoryOrder[i % 3], sellers[i % 3], `Listing ${i}`, `${i + 1}.5`, catalogStatusOf(i)],
    );
    listingIds.push(rows[0]!.id);
  }
  for (const [name, popularity] of catalogInterests) {
    await q.query(
      `INSERT INTO interest_catalog (slug, name, category_id, popularity) VALUES ($1, $2, $3, $4)`,
      [name.toLowerCase().replace(/ /g, '-'), name, categoryIds.electronics, popularity],
    );
  }
  return { categoryIds, listingIds };
}
