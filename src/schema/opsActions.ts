import type { ArgBuilder, InputFieldMap } from '@pothos/core';
import type { z } from 'zod';
import { builder } from '../builder.js';
import { opsActions, type OpsActionName, type OpsActionResult } from '../ops/actions.js';
import type { BackfillProgress } from '../ops/maintenanceActions.js';
import type { RebuildResult } from '../ops/vectorIndexes.js';
import type { RecallMeasurement } from '../ops/vectorRecall.js';
import * as ops from '../resolvers/ops.js';
import { AuditedRef, type Audited } from './audited.js';
import {
  EvaluateRolloutsResultRef,
  FlagChangeResultRef,
  FlagThresholdsInput,
  SaveFlagResultRef,
} from './flags.js';
import { BackfillProgressRef } from './opsDiagnostics.js';
import { ErasureRef } from './privacy.js';
import type { ErasureRequest } from '../privacy/erasure.js';

const RequeueResultRef = builder
  .objectRef<{ requeued: number; maxAttempts?: number } & Audited>('RequeueResult')
  .implement({
    description: 'Items put back to queued.',
    interfaces: [AuditedRef],
    fields: (t) => ({
      requeued: t.exposeInt('requeued'),
      maxAttempts: t.int({ nullable: true, resolve: (r) => r.maxAttempts ?? null }),
    }),
  });

const EraseUserResultRef = builder
  .objectRef<{ request: ErasureRequest; userId: string } & Audited>('EraseUserResult')
  .implement({
    description: 'The erasure requested (or the one already open); ops.erasureRequests shows its progress.',
    interfaces: [AuditedRef],
    fields: (t) => ({
      userId: t.exposeID('userId'),
      erasure: t.field({ type: ErasureRef, resolve: (r) => r.request }),
    }),
  });

const GcResultRef = builder.objectRef<{ deleted: number } & Audited>('GcResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    deleted: t.exposeInt('deleted'),
  }),
});

const AnalyzeResultRef = builder.objectRef<{ tables: string[] } & Audited>('AnalyzeResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    tables: t.exposeStringList('tables'),
  }),
});

const DecayResultRef = builder.objectRef<{ decayed: number } & Audited>('DecayResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    decayed: t.exposeInt('decayed', { description: 'User interests whose affinity decayed.' }),
  }),
});

const EnqueueResultRef = builder
  .objectRef<{ enqueued: boolean; itemId: string; interestId: number; categoryId: number } & Audited>(
    'EnqueueDiscoveryResult',
  )
  .implement({
    interfaces: [AuditedRef],
    fields: (t) => ({
      enqueued: t.exposeBoolean('enqueued', {
        description: 'False when an item for the pair was still pending.',
      }),
      itemId: t.exposeID('itemId'),
      interestId: t.exposeID('interestId'),
      categoryId: t.exposeID('categoryId'),
    }),
  });

const BackfillRunRef = builder.objectRef<BackfillProgress & Audited>('BackfillRun').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    progress: t.field({ type: BackfillProgressRef, resolve: (r) => r }),
  }),
});

const RebuildResultRef = builder.objectRef<RebuildResult & Audited>('RebuildIndexResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    index: t.exposeString('index'),
    table: t.exposeString('table'),
    method: t.exposeString('method'),
    previousOptions: t.exposeStringList('previousOptions'),
    options: t.exposeStringList('options'),
    rows: t.exposeInt('rows', { description: 'Rows with a vector when the rebuild started.' }),
    suggestedLists: t.exposeInt('suggestedLists', {
      nullable: true,
      description: 'ivfflat: pgvector’s lists for those rows (rows/1000 up to 1M, sqrt(rows) above).',
    }),
  }),
});

const RecallMeasurementRef = builder.objectRef<RecallMeasurement>('VectorRecallMeasurement').implement({
  fields: (t) => ({
    index: t.exposeString('index'),
    table: t.exposeString('table'),
    method: t.exposeString('method'),
    recall: t.exposeFloat('recall', {
      nullable: true,
      description: 'Share of the exact k nearest neighbours the index returned (null: no vectors).',
    }),
    k: t.exposeInt('k'),
    samples: t.exposeInt('samples', { description: 'Query vectors sampled from the table.' }),
    ms: t.exposeFloat('ms'),
    measuredAt: t.expose('measuredAt', { type: 'DateTime' }),
  }),
});

const MeasureRecallResultRef = builder
  .objectRef<{ measurements: RecallMeasurement[] } & Audited>('MeasureVectorRecallResult')
  .implement({
    interfaces: [AuditedRef],
    fields: (t) => ({
      measurements: t.field({ type: [RecallMeasurementRef], resolve: (r) => r.measurements }),
    }),
  });

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
type Actions = typeof opsActions;
type ArgName<N extends OpsActionName> = keyof Actions[N]['args']['shape'] & string;

/**
 * What the registry (src/ops/actions.ts) does not say about an action's mutation: its result type and,
 * for an object argument, the input type that carries it. Everything else comes from the registry.
 */
interface MutationShape<N extends OpsActionName> {
  result: PothosSchemaTypes.ObjectRef<Types, unknown>;
  inputs?: Partial<Record<ArgName<N>, PothosSchemaTypes.InputObjectRef<Types, unknown>>>;
}

const shapes = {
  requeueStuckEvents: { result: RequeueResultRef },
  requeueStuckDiscovery: { result: RequeueResultRef },
  requeueDiscoveryErrors: { result: RequeueResultRef },
  backfillProfileEmbeddings: { result: BackfillRunRef },
  gcIntentSignals: { result: GcResultRef },
  gcLearningEvents: { result: GcResultRef },
  analyzeHotTables: { result: AnalyzeResultRef },
  enqueueDiscovery: { result: EnqueueResultRef },
  decayInterests: { result: DecayResultRef },
  rebuildVectorIndex: { result: RebuildResultRef },
  measureVectorRecall: { result: MeasureRecallResultRef },
  saveFlag: { result: SaveFlagResultRef, inputs: { thresholds: FlagThresholdsInput } },
  advanceRollout: { result: FlagChangeResultRef },
  setRollout: { result: FlagChangeResultRef },
  rollback: { result: FlagChangeResultRef },
  evaluateRollouts: { result: EvaluateRolloutsResultRef },
  eraseUser: { result: EraseUserResultRef },
} satisfies { [N in OpsActionName]: MutationShape<N> };

/** The actions whose result (with its audit row) is not what their result type shows: none may be. */
type Misfits = {
  [N in OpsActionName]: OpsActionResult<N> & Audited extends (typeof shapes)[N]['result']['$inferType']
    ? never
    : N;
}[OpsActionName];
const resultsFit: [Misfits] extends [never] ? true : Misfits = true;
void resultsFit;

/** A registry argument as GraphQL sees it: whether it must be given, its default, its description. */
interface ArgSpec {
  /** The schema under optional, nullable, default and preprocess. */
  base: z.core.$ZodTypes;
  required: boolean;
  defaultValue?: unknown;
  description?: string;
}

/**
 * Reads an argument's zod schema: optional, nullable and default make it optional (a default is shown
 * as GraphQL's); a preprocess (the CLI's flags) is typed by what it hands on.
 */
function argSpecOf(schema: z.ZodType): ArgSpec {
  let current = schema as unknown as z.core.$ZodTypes;
  const spec: Omit<ArgSpec, 'base'> = { required: true };
  for (;;) {
    spec.description ??= (current as unknown as z.ZodType).description;
    const def = current._zod.def;
    if (def.type === 'optional' || def.type === 'nullable') spec.required = false;
    else if (def.type === 'default') {
      spec.required = false;
      spec.defaultValue ??= def.defaultValue;
    } else if (def.type !== 'pipe') return { base: current, ...spec };
    current = (
      def.type === 'pipe' ? (def.in._zod.def.type === 'transform' ? def.out : def.in) : def.innerType
    ) as z.core.$ZodTypes;
  }
}

/** GraphQL's scalar for a plain zod type; anything else needs an input type in `shapes`. */
function scalarOf(where: string, base: z.core.$ZodTypes): 'Int' | 'Float' | 'String' | 'Boolean' {
  const def = base._zod.def;
  switch (def.type) {
    case 'number':
      // .int() is the safeint format (z.int32() and z.uint32() fit too); other numbers are floats.
      return /^(safeint|u?int32)$/.test((base as unknown as z.ZodNumber).format ?? '') ? 'Int' : 'Float';
    case 'string':
      return 'String';
    case 'boolean':
      return 'Boolean';
    default:
      throw new Error(`${where}: no GraphQL scalar for a zod ${def.type}; give it an input type in shapes`);
  }
}

function argsOf(arg: ArgBuilder<Types>, name: OpsActionName): InputFieldMap {
  const entry = shapes[name];
  const inputs: Partial<Record<string, PothosSchemaTypes.InputObjectRef<Types, unknown>>> =
    'inputs' in entry ? entry.inputs : {};
  const shape: Record<string, z.ZodType> = opsActions[name].args.shape;
  return Object.fromEntries(
    Object.entries(shape).map(([argName, schema]) => {
      const { base, required, defaultValue, description } = argSpecOf(schema);
      const where = `${name}.${argName}`;
      const input = inputs[argName];
      if (input) {
        // An input object shows no default: the action's schema fills in what is omitted.
        if (defaultValue !== undefined) throw new Error(`${where}: an input type with a default`);
        return [argName, arg({ type: input, required, description })];
      }
      const scalar = scalarOf(where, base);
      const expected = scalar === 'String' ? 'string' : scalar === 'Boolean' ? 'boolean' : 'number';
      if (defaultValue !== undefined && typeof defaultValue !== expected) {
        throw new Error(`${where}: the default ${JSON.stringify(defaultValue)} is not a ${scalar}`);
      }
      // Checked just above: the default is of the argument's scalar.
      const shown = defaultValue as number | string | boolean | undefined;
      return [argName, arg({ type: scalar, required, defaultValue: shown, description })];
    }),
  );
}

/** Every ops action is an admin mutation, generated from the registry: one shape for both surfaces. */
builder.mutationFields((t) =>
  Object.fromEntries(
    (Object.keys(opsActions) as OpsActionName[]).map((name) => [
      name,
      t.field({
        type: shapes[name].result,
        description: `Admin: ${opsActions[name].description}`,
        authScopes: { admin: true },
        args: argsOf(t.arg, name),
        resolve: (_root, args, ctx) => ops.runAction(ctx, name, args),
      }),
    ]),
  ),
);
