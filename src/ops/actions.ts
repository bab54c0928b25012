import { z } from 'zod';
import { createBadUserInputError, createNotFoundError } from '../errors/errors.js';
import { evaluateRollouts } from '../flags/evaluateRollouts.js';
import { changeRollout, flagThresholdsChangeSchema, nextStep, saveFlag } from '../flags/flags.js';
import { requestErasure } from '../privacy/erasure.js';
import { isUuid } from '../validation/isUuid.js';
import { findUnstorableText } from '../validation/storableText.js';
import { withAudit } from './audit.js';
import { analyzeHotTables, backfillProfileEmbeddings, decayInterests, runGc } from './maintenanceActions.js';
import { inAdminTx, type OpsRunner, type RolloutSettings } from './opsRunner.js';
import {
  enqueueDiscovery,
  requeueDiscoveryErrors,
  requeueStuckDiscovery,
  requeueStuckEvents,
} from './queueActions.js';
import { rebuildVectorIndex } from './vectorIndexes.js';
import { measureVectorRecall, RECALL_K, RECALL_SAMPLES } from './vectorRecall.js';

/** Whole numbers from GraphQL (numbers) or the CLI (strings). */
const whole = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A CLI flag without a value arrives as true; `--restart false` as a string. */
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const reason = z
  .string()
  .trim()
  .max(500)
  .optional()
  .describe('Why (up to 500 characters): recorded with the action in the audit log.');
const flagKey = z.string().trim().min(1).max(64);

export type { RolloutSettings };

/** The runbook's attempt limit for requeueing failed discovery items. */
const MAX_ATTEMPTS = 5;

interface ActionDef<S extends z.ZodType, R> {
  /**
   * Written once, for both surfaces: `npm run ops -- list` prints it and the GraphQL mutation is
   * described as "Admin: " + it (src/schema/opsActions.ts); arguments carry theirs with .describe().
   */
  description: string;
  args: S;
  run: (runner: OpsRunner & { rollouts: RolloutSettings }, args: z.output<S>) => Promise<R>;
  /** Changes flags: the gateway re-reads them at once afterwards. */
  changesFlags?: boolean;
  /** Opens an account's erasure: the gateway forgets the person's cached role at once afterwards. */
  erasesAccount?: boolean;
}

const define = <S extends z.ZodType, R>(def: ActionDef<S, R>): ActionDef<S, R> => def;

/**
 * Every ops action, shared by the GraphQL mutations and `npm run ops`: the same argument rules, the
 * same code, the same ops_audit row. Long ones commit in bounded batches under the statement timeout.
 */
export const opsActions = {
  requeueStuckEvents: define({
    description: 'runbook "Worker Stuck" — events with expired leases back to queued.',
    args: z.object({ reason }),
    run: (runner) => requeueStuckEvents(runner),
  }),
  requeueStuckDiscovery: define({
    description: 'discovery items with expired leases back to queued.',
    args: z.object({ reason }),
    run: (runner) => requeueStuckDiscovery(runner),
  }),
  requeueDiscoveryErrors: define({
    description: `runbook "Discovery Queue Backlog" — failed items with attempts < maxAttempts (default ${MAX_ATTEMPTS}) back to queued.`,
    args: z.object({ maxAttempts: whole(1, 1000).default(MAX_ATTEMPTS), reason }),
    run: (runner, args) => requeueDiscoveryErrors(runner, args),
  }),
  backfillProfileEmbeddings: define({
    description:
      'runbook "Backfill Profile Embeddings" — batches of batchSize (≤ 1,000), each committed with its cursor; ' +
      'call again to resume. maxBatches bounds this call.',
    args: z.object({
      batchSize: whole(1, 1000).default(1000),
      maxBatches: whole(1, 1_000_000).optional(),
      restart: flag.default(false),
      reason,
    }),
    run: (runner, args) => backfillProfileEmbeddings(runner, args),
  }),
  gcIntentSignals: define({
    description: 'runbook "Cleanup Old Signals" — intent signals older than retentionDays (default 90).',
    args: z.object({ retentionDays: whole(1, 3650).optional(), reason }),
    run: (runner, args) => runGc(runner, 'gc_intent_signals', args),
  }),
  gcLearningEvents: define({
    description: 'runbook "Cleanup Old Signals" — learning events older than retentionDays (default 180).',
    args: z.object({ retentionDays: whole(1, 3650).optional(), reason }),
    run: (runner, args) => runGc(runner, 'gc_learning_events', args),
  }),
  analyzeHotTables: define({
    description: 'runbook "Analyze After Bulk Updates".',
    args: z.object({ reason }),
    run: (runner) => analyzeHotTables(runner),
  }),
  enqueueDiscovery: define({
    description: 'queue discovery for an interest, in its own category unless categoryId is given.',
    args: z.object({
      interestId: whole(1, 2_147_483_647),
      categoryId: whole(1, 2_147_483_647).optional(),
      reason,
    }),
    run: (runner, args) => enqueueDiscovery(runner, args),
  }),
  decayInterests: define({
    description: 'interest drift — affinity × 0.98 per whole week since last reinforced or decayed.',
    args: z.object({ reason }),
    run: (runner) => decayInterests(runner),
  }),
  rebuildVectorIndex: define({
    description:
      'rebuild a vector index CONCURRENTLY with new parameters (ivfflat: lists; hnsw: m, efConstruction), ' +
      'then swap it in. Needs MIGRATION_DATABASE_URL (the schema owner). ivfflat lists default to pgvector’s ' +
      'rule (rows/1000 up to 1M rows, sqrt(rows) above); a lists leaving fewer than 50 rows per list is ' +
      'refused (BAD_USER_INPUT) unless force.',
    args: z.object({
      index: z.string().trim().min(1).max(63),
      lists: whole(1, 32_768).optional(),
      m: whole(2, 100).optional(),
      efConstruction: whole(4, 1000).optional(),
      force: flag
        .default(false)
        .describe('Build an ivfflat index even when lists leaves fewer than 50 rows per list.'),
      reason,
    }),
    run: (runner, args) => rebuildVectorIndex(runner, args),
  }),
  measureVectorRecall: define({
    description:
      `recall@${RECALL_K} of every vector index (or \`index\`) against exact search on ${RECALL_SAMPLES} vectors ` +
      'sampled from its table; stored for ops.vectorHealth, /metrics and ops.alerts (the worker measures hourly).',
    args: z.object({ index: z.string().trim().min(1).max(63).optional(), reason }),
    run: async (runner, args) => {
      const measurements = await measureVectorRecall((fn) => inAdminTx(runner, fn), {
        index: args.index,
        probes: runner.ivfflatProbes,
      });
      if (args.index !== undefined && measurements.length === 0)
        throw createNotFoundError('vector index', args.index);
      return { measurements };
    },
  }),
  saveFlag: define({
    description: 'create a flag at 0%, or change its description, baseline p95 and thresholds.',
    args: z.object({
      key: flagKey,
      description: z.string().max(500).optional(),
      baselineP95Ms: z.coerce.number().positive().max(600_000).nullable().optional(),
      thresholds: flagThresholdsChangeSchema.optional(),
      reason,
    }),
    changesFlags: true,
    run: (runner, args) => inAdminTx(runner, (client) => saveFlag(client, args)),
  }),
  advanceRollout: define({
    description: 'the next rollout step, 1% → 5% → 25% → 100%.',
    args: z.object({ key: flagKey, reason }),
    changesFlags: true,
    run: (runner, args) =>
      inAdminTx(runner, (client) =>
        changeRollout(client, args.key, (f) => ({ pct: nextStep(f) }), runner.actor, args.reason ?? null),
      ),
  }),
  setRollout: define({
    description: 'set a flag to any percentage (0–100).',
    args: z.object({ key: flagKey, rolloutPct: whole(0, 100), reason }),
    changesFlags: true,
    run: (runner, args) =>
      inAdminTx(runner, (client) =>
        changeRollout(client, args.key, () => ({ pct: args.rolloutPct }), runner.actor, args.reason ?? null),
      ),
  }),
  rollback: define({
    description: 'roll a flag back to 0% (state ROLLED_BACK).',
    args: z.object({ key: flagKey, reason }),
    changesFlags: true,
    run: (runner, args) =>
      inAdminTx(runner, (client) =>
        changeRollout(
          client,
          args.key,
          () => ({ pct: 0, state: 'rolled_back' }),
          runner.actor,
          args.reason ?? 'manual rollback',
        ),
      ),
  }),
  eraseUser: define({
    description:
      'erase a person on their request (docs/privacy.md#erasure): their tokens stop at once and the worker ' +
      'removes everything about them in batches (progress: ops.erasureRequests). Returns the open request ' +
      'when one exists.',
    args: z.object({
      userId: z
        .string()
        .trim()
        .refine(isUuid, 'must be a user id (a uuid)')
        .transform((id) => id.toLowerCase()),
      reason: z.string().trim().min(1).max(500).describe('Why, e.g. the ticket of the person’s request.'),
    }),
    erasesAccount: true,
    run: async (runner, args) => {
      const request = await inAdminTx(runner, (client) => requestErasure(client, args.userId));
      if (!request) throw createNotFoundError('user', args.userId);
      return { request, userId: args.userId };
    },
  }),
  evaluateRollouts: define({
    description:
      'roll back every flag whose exposed traffic breaks its limits (error rate, p95 vs baseline, ' +
      'complaints); the worker also runs this every WORKER_ROLLOUT_CHECK_SEC. dryRun only reports.',
    args: z.object({ dryRun: flag.default(false), reason }),
    changesFlags: true,
    // One admin transaction: the reads must see every user's complaints (RLS), and a few flags fit in 5 s.
    run: async (runner, args) => ({
      evaluations: await inAdminTx(runner, (client) =>
        evaluateRollouts(client, (fn) => fn(client), runner.actor, {
          ...runner.rollouts,
          dryRun: args.dryRun,
        }),
      ),
    }),
  }),
};

export type OpsActionName = keyof typeof opsActions;
type Actions = typeof opsActions;
export type OpsActionResult<N extends OpsActionName> = Awaited<ReturnType<Actions[N]['run']>>;

export const isOpsActionName = (name: string): name is OpsActionName => Object.hasOwn(opsActions, name);

/**
 * Validates the arguments (BAD_USER_INPUT naming the argument), runs the action and records it in
 * ops_audit (also when it fails). Returns the result with the audit row's id and the duration.
 */
export async function runOpsAction<N extends OpsActionName>(
  runner: OpsRunner & { rollouts: RolloutSettings },
  name: N,
  rawArgs: Record<string, unknown>,
): Promise<{ result: OpsActionResult<N>; auditId: string; durationMs: number }> {
  const action = opsActions[name] as unknown as ActionDef<z.ZodType, OpsActionResult<N>>;
  // A misspelt argument must not be dropped silently (the CLI passes whatever it is given).
  const known = action.args instanceof z.ZodObject ? Object.keys(action.args.shape) : [];
  const unknown = Object.keys(rawArgs).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw createBadUserInputError(
      `unknown argument ${unknown.join(', ')} for ${name}; it takes ${known.join(', ') || 'no arguments'}`,
      unknown[0],
    );
  }
  // The same edge check as GraphQL's (src/server/textInputPlugin.ts): text Postgres cannot store.
  const unstorable = findUnstorableText(rawArgs);
  if (unstorable) {
    throw createBadUserInputError(
      `${unstorable.path}: holds ${unstorable.reason}, which cannot be stored`,
      unstorable.path,
    );
  }
  const parsed = action.args.safeParse(rawArgs);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || undefined;
    throw createBadUserInputError(
      `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid arguments'}`,
      field,
    );
  }
  const args = parsed.data as Record<string, unknown>;
  return withAudit(runner.pool, runner.actor, name, args, () => action.run(runner, args));
}

export const changesFlags = (name: OpsActionName): boolean => opsActions[name].changesFlags === true;

/** The account an action began to erase (its result's `userId`), or null for every other action. */
export function erasedAccountOf(name: OpsActionName, result: unknown): string | null {
  const def: { erasesAccount?: boolean } = opsActions[name];
  if (!def.erasesAccount) return null;
  const userId = (result as { userId?: unknown }).userId;
  return typeof userId === 'string' ? userId : null;
}
