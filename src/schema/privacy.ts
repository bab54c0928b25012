import { builder } from '../builder.js';
import type { ErasureRequest, ErasureRequestView } from '../privacy/erasure.js';
import * as privacy from '../resolvers/privacy.js';
import { OpsRef } from './ops.js';

const ErasureStatusEnum = builder.enumType('ErasureStatus', {
  values: { QUEUED: { value: 'queued' }, RUNNING: { value: 'running' }, DONE: { value: 'done' } } as const,
});

const ErasureRequesterEnum = builder.enumType('ErasureRequester', {
  values: { SELF: { value: 'self' }, ADMIN: { value: 'admin' } } as const,
});

export const ErasureRef = builder.objectRef<ErasureRequest>('AccountErasure').implement({
  description:
    'An account’s erasure, requested: its tokens no longer work, and the worker is removing everything ' +
    'about the person (docs/privacy.md#erasure).',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({ type: ErasureStatusEnum, resolve: (r) => r.status }),
    requestedBy: t.field({ type: ErasureRequesterEnum, resolve: (r) => r.requestedBy }),
    requestedAt: t.expose('requestedAt', { type: 'DateTime' }),
    created: t.exposeBoolean('created', {
      description: 'False when the account already had an open request (this is that one).',
    }),
  }),
});

const ErasureStepRowsRef = builder.objectRef<{ step: string; rows: number }>('ErasureStepRows').implement({
  fields: (t) => ({ step: t.exposeString('step'), rows: t.exposeInt('rows') }),
});

const ErasureRequestRef = builder.objectRef<ErasureRequestView>('ErasureRequest').implement({
  description: 'One erasure as the worker carries it out, step by step in bounded batches.',
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId', {
      nullable: true,
      description: 'The person, while the request is open; null once done (the request forgot them).',
    }),
    status: t.field({ type: ErasureStatusEnum, resolve: (r) => r.status }),
    step: t.exposeString('step', { description: 'The step being worked on (docs/privacy.md#erasure).' }),
    requestedBy: t.field({ type: ErasureRequesterEnum, resolve: (r) => r.requestedBy }),
    rowsDone: t.field({ type: [ErasureStepRowsRef], resolve: (r) => r.rowsDone }),
    batches: t.exposeInt('batches'),
    attempts: t.exposeInt('attempts', {
      description: 'Leases taken: more than one after a failure or a crash.',
    }),
    lastError: t.exposeString('lastError', { nullable: true }),
    requestedAt: t.expose('requestedAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.mutationFields((t) => ({
  deleteMyAccount: t.authField({
    type: ErasureRef,
    description:
      'Erases the signed-in account and everything about its person (docs/privacy.md#erasure). ' +
      '`confirmHandle` must be the account’s own handle. The token stops working at once.',
    authScopes: { user: true },
    args: { confirmHandle: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => privacy.deleteMyAccount(ctx, args),
  }),
}));

builder.objectFields(OpsRef, (t) => ({
  erasureRequests: t.field({
    type: [ErasureRequestRef],
    description: 'Account erasures: open ones first (oldest first), then the latest finished.',
    args: { first: t.arg.int({ description: '1..100, default 20.' }) },
    resolve: (_ops, args, ctx) => privacy.erasureRequests(ctx, args.first),
  }),
}));
