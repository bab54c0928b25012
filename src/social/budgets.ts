/**
 * Every rate-limit budget, and which budget each GraphQL root field spends. One table, so a new
 * mutation cannot ship without a budget: test/social/budgets.test.ts walks the schema's Mutation and
 * Query fields and fails on any field missing here.
 */

/** The budgets a signed-in user sees in `me { rateLimits }`. */
export const USER_WRITE_ACTIONS = [
  'like',
  'comment',
  'follow',
  'interest',
  'signal',
  'hide',
  'feedback',
] as const;

/**
 * The budgets, each `limit` per window per key (a user, or for anonymous reads the client address); the
 * window is a minute unless BUDGET_WINDOW_MS says otherwise.
 */
export const RATE_LIMITED_ACTIONS = [
  ...USER_WRITE_ACTIONS,
  'admin',
  'catalog',
  'feed',
  'read',
  // A person's privacy export (GET /privacy/export, src/server/privacyExport.ts): their whole history.
  'export',
  // Requests to erase one's own account (deleteMyAccount): once per account, a few tries at the handle.
  'account',
] as const;
export type RateLimitedAction = (typeof RATE_LIMITED_ACTIONS)[number];

/** Budgets counted over a window longer than the minute: an export reads a person's whole history. */
export const BUDGET_WINDOW_MS: Partial<Record<RateLimitedAction, number>> = { export: 3_600_000 };
export type UserWriteAction = (typeof USER_WRITE_ACTIONS)[number];

/**
 * Mutation field → budget. Writes spend their budget per user, after input validation (a refused
 * input costs nothing); the admin operations share one 'admin' budget per admin.
 */
export const MUTATION_BUDGETS = {
  likeListing: 'like',
  unlikeListing: 'like',
  addComment: 'comment',
  deleteComment: 'comment',
  reportProblem: 'comment',
  follow: 'follow',
  unfollow: 'follow',
  setInterests: 'interest',
  addInterest: 'interest',
  removeInterest: 'interest',
  recordSignal: 'signal',
  hideListing: 'hide',
  recordFeedback: 'feedback',
  // Admin operations (src/ops/actions.ts, experiments): one shared budget.
  saveExperiment: 'admin',
  requeueStuckEvents: 'admin',
  requeueStuckDiscovery: 'admin',
  requeueDiscoveryErrors: 'admin',
  backfillProfileEmbeddings: 'admin',
  gcIntentSignals: 'admin',
  gcLearningEvents: 'admin',
  analyzeHotTables: 'admin',
  enqueueDiscovery: 'admin',
  decayInterests: 'admin',
  rebuildVectorIndex: 'admin',
  measureVectorRecall: 'admin',
  saveFlag: 'admin',
  advanceRollout: 'admin',
  setRollout: 'admin',
  rollback: 'admin',
  evaluateRollouts: 'admin',
  eraseUser: 'admin',
  deleteMyAccount: 'account',
  // Catalogue batches (src/catalog/catalogBatch.ts), per service caller or admin: one unit per batch.
  upsertListings: 'catalog',
  setListingStatus: 'catalog',
  upsertInterests: 'catalog',
} as const satisfies Record<string, RateLimitedAction>;
export type BudgetedMutation = keyof typeof MUTATION_BUDGETS;

/**
 * Query field → budget, spent per client (the user; anonymous callers by client address) before the
 * field resolves (src/schema/budgets.ts, applyBudgets). `null`: served from memory or one primary-key lookup,
 * no budget (listed so the choice is explicit).
 */
export const QUERY_BUDGETS = {
  // Writes one learning event per item served.
  suggestions: 'feed',
  // Search, vector and paginated queries.
  similarListings: 'read',
  interests: 'read',
  listings: 'read',
  listing: 'read',
  profile: 'read',
  userFeatures: 'read',
  categories: 'read',
  ops: 'read',
  schemaMigrations: 'read',
  // The signed-in viewer (null otherwise), with their features and interests.
  me: 'read',
  // In memory, refreshed on a timer.
  flags: null,
} as const satisfies Record<string, RateLimitedAction | null>;
export type BudgetedQuery = keyof typeof QUERY_BUDGETS;
