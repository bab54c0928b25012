import { z } from 'zod';
import { createBadUserInputError, createNotFoundError } from '../errors/errors.js';
import { evaluateRollouts } from '../flags/evaluateRollouts.js';
import { changeRollout, flagThresholdsSchema, nextStep, saveFlag } from '../flags/flags.js';
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
const reason = z.string().trim().max(500).optional();
const flagKey = z.string().trim().min(1).max(64);

export type { RolloutSettings };

interface ActionDef<S extends z.ZodType, R> {
  description: string;
  args: S;
  run: (runner: OpsRunner & { rollouts: RolloutSettings }, args: z.output<S>) => Promise<R>;
  /** Changes flags: the gateway re-reads them at once afterwards. */
  changesFlags?: boolean;
}

const define = <S extends z.ZodType, R>(def: ActionDef<S, R>): ActionDef<S, R> => def;

/**
 * Every ops action, shared by the GraphQL mutations and `npm run ops`: the same argument rules, the
 * same code, the same ops_audit row. Long ones commit in bounded batches under the statement timeout.
 */
export const opsActions = {
  requeueStuckEvents: define({
    description: 'Runbook "Worker Stuck": events with expired leases back to queued',
    args: z.object({}),
    run: (runner) => requeueStuckEvents(runner),
  }),
  requeueStuckDiscovery: define({
    description: 'Discovery items with expired leases (processing) back to queued',
    args: z.object({}),
    run: (runner) => requeueStuckDiscovery(runner),
  }),
  requeueDiscoveryErrors: define({
    description: 'Runbook "Discovery Queue Backlog": errors with attempts < maxAttempts back to queued',
    args: z.object({ maxAttempts: whole(1, 1000).default(5) }),
    run: (runner, args) => requeueDiscoveryErrors(runner, args),
  }),
  backfillProfileEmbeddings: define({
    description:
      'Runbook "Backfill Profile Embeddings": batches of 1,000, resumable (maxBatches bounds one call)',
    args: z.object({
      batchSize: whole(1, 1000).default(1000),
      maxBatches: whole(1, 1_000_000).optional(),
      restart: flag.default(false),
    }),
    run: (runner, args) => backfillProfileEmbeddings(runner, args),
  }),
  gcIntentSignals: define({
    description: 'Runbook "Cleanup Old Signals": intent signals past retention (default 90 days)',
    args: z.object({ retentionDays: whole(1, 3650).optional() }),
    run: (runner, args) => runGc(runner, 'gc_intent_signals', args),
  }),
  gcLearningEvents: define({
    description: 'Runbook "Cleanup Old Signals": learning events past retention (default 180 days)',
    args: z.object({ retentionDays: whole(1, 3650).optional() }),
    run: (runner, args) => runGc(runner, 'gc_learning_events', args),
  }),
  analyzeHotTables: define({
    description: 'Runbook "Analyze After Bulk Updates": ANALYZE the hot tables',
    args: z.object({}),
    run: (runner) => analyzeHotTables(runner),
  }),
  enqueueDiscovery: define({
    description: 'Queue discovery for an interest (in its category unless categoryId is given)',
    args: z.object({ interestId: whole(1, 2_147_483_647), categoryId: whole(1, 2_147_483_647).optional() }),
    run: (runner, args) => enqueueDiscovery(runner, args),
  }),
  decayInterests: define({
    description: 'Interest drift: affinity × 0.98 per whole week unless reinforced',
    args: z.object({}),
    run: (runner) => decayInterests(runner),
  }),
  rebuildVectorIndex: define({
    description:
      'Rebuild a vector index with new parameters (ivfflat lists; hnsw m, efConstruction), CONCURRENTLY',
    args: z.object({
      index: z.string().trim().min(1).max(63),
      lists: whole(1, 32_768).optional(),
      m: whole(2, 100).optional(),
      efConstruction: whole(4, 1000).optional(),
      force: flag.default(false),
    }),
    run: (runner, args) => rebuildVectorIndex(runner, args),
  }),
  measureVectorRecall: define({
    description: `recall@${RECALL_K} of every vector index (or one) against exact search on ${RECALL_SAMPLES} sampled vectors`,
    args: z.object({ index: z.string().trim().min(1).max(63).optional() }),
    run: async (runner, args) => {
      const measurements = await measureVectorRecall((fn) => inAdminTx(runner, fn), { index: args.index });
      if (args.index !== undefined && measurements.length === 0)
        throw createNotFoundError('vector index', args.index);
      return { measurements };
    },
  }),
  saveFlag: define({
    description: 'Create a feature flag at 0%, or change its description, baseline p95 and thresholds',
    args: z.object({
      key: flagKey,
      description: z.string().max(500).optional(),
      baselineP95Ms: z.coerce.number().positive().max(600_000).nullable().optional(),
      thresholds: flagThresholdsSchema.partial().optional(),
    }),
    changesFlags: true,
    run: (runner, args) => inAdminTx(runner, (client) => saveFlag(client, args)),
  }),
  advanceRollout: define({
    description: 'Next rollout step: 1% → 5% → 25% → 100%',
    args: z.object({ key: flagKey, reason }),
    changesFlags: true,
    run: (runner, args) =>
      inAdminTx(runner, (client) =>
        changeRollout(client, args.key, (f) => ({ pct: nextStep(f) }), runner.actor, args.reason ?? null),
      ),
  }),
  setRollout: define({
    description: 'Set a flag to any percentage (0–100)',
    args: z.object({ key: flagKey, rolloutPct: whole(0, 100), reason }),
    changesFlags: true,
    run: (runner, args) =>
      inAdminTx(runner, (client) =>
        changeRollout(client, args.key, () => ({ pct: args.rolloutPct }), runner.actor, args.reason ?? null),
      ),
  }),
  rollback: define({
    description: 'Roll a flag back to 0% (state rolled_back)',
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
  evaluateRollouts: define({
    description:
      'Auto-rollback: flags whose exposed traffic breaks their error, latency or complaint limits go to 0%',
    args: z.object({ dryRun: flag.default(false) }),
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
