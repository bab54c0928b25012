/**
 * Kernels: the named operations vw_kernel_slos reports. A GraphQL operation's kernel is that of its
 * root fields (the most critical one when they differ); verifying the bearer token is `auth`.
 */
export type Kernel = 'auth' | 'onboarding' | 'feed' | 'write' | 'ops' | 'read';

const byRootField: Record<string, Kernel> = {
  suggestions: 'feed',
  similarListings: 'feed',
  interests: 'onboarding',
  categories: 'onboarding',
  setInterests: 'onboarding',
  addInterest: 'onboarding',
  removeInterest: 'onboarding',
  ops: 'ops',
  schemaMigrations: 'ops',
};

/** When one operation asks for several kernels' fields, it is counted under the first of these. */
const precedence: Kernel[] = ['ops', 'write', 'onboarding', 'feed', 'read'];

/**
 * The kernel of an operation from its type and root field names. Mutations are writes unless they are
 * onboarding or admin (`adminFields`); queries are reads unless listed above.
 */
export function kernelOf(
  operation: 'query' | 'mutation' | 'subscription',
  rootFields: readonly string[],
  adminFields: ReadonlySet<string>,
): Kernel {
  const kernels = new Set<Kernel>(
    rootFields.map((field) => {
      if (adminFields.has(field)) return 'ops';
      return byRootField[field] ?? (operation === 'mutation' ? 'write' : 'read');
    }),
  );
  return precedence.find((k) => kernels.has(k)) ?? 'read';
}
