import { createBadUserInputError } from '../errors/errors.js';

const CATEGORY_SLUG = /^[a-z0-9-]{1,64}$/;

/**
 * A `category` argument to its id: a well-formed slug (`a-z`, `0-9`, `-`, 1–64 characters) that names
 * a category. `find` looks the slug up (Prisma or the request's loader); either failure is
 * BAD_USER_INPUT on `category`.
 */
export async function categoryIdOfSlug(
  slug: string,
  find: (slug: string) => Promise<{ id: number } | null | undefined>,
): Promise<number> {
  if (!CATEGORY_SLUG.test(slug)) {
    throw createBadUserInputError(
      `category must be a category slug such as "electronics", got "${slug}"`,
      'category',
    );
  }
  const category = await find(slug);
  if (!category) throw createBadUserInputError(`there is no category "${slug}"`, 'category');
  return category.id;
}
