import { builder } from '../builder.js';
import * as profiles from '../resolvers/profile.js';

export const RoleEnum = builder.enumType('Role', {
  values: { USER: { value: 'user' }, ADMIN: { value: 'admin' }, SERVICE: { value: 'service' } } as const,
});

export const PublicProfileRef = builder.prismaObject('PublicProfile', {
  name: 'Profile',
  description: 'What anyone may see of a person.',
  fields: (t) => ({
    id: t.exposeID('userId'),
    handle: t.exposeString('handle'),
    displayName: t.exposeString('displayName'),
    followerCount: t.exposeInt('followerCount'),
    followingCount: t.exposeInt('followingCount'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const UserInterestRef = builder.prismaObject('UserInterest', {
  description: 'One of the viewer’s interests with how strongly it applies (0..1).',
  fields: (t) => ({
    interest: t.relation('interest'),
    affinity: t.exposeFloat('affinity'),
    reinforcedAt: t.expose('reinforcedAt', { type: 'DateTime' }),
  }),
});

export const ViewerRef = builder.prismaObject('Profile', {
  name: 'Viewer',
  description: 'The signed-in person, with what only they may see.',
  fields: (t) => ({
    id: t.exposeID('userId'),
    handle: t.exposeString('handle'),
    displayName: t.exposeString('displayName'),
    role: t.field({ type: RoleEnum, resolve: (p) => p.role as 'user' | 'admin' | 'service' }),
    followerCount: t.exposeInt('followerCount'),
    followingCount: t.exposeInt('followingCount'),
    embeddingUpdatedAt: t.expose('embeddingUpdatedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    interests: t.relation('interests', {
      query: { orderBy: [{ affinity: 'desc' }, { interestId: 'asc' }] },
      complexity: { field: 1, multiplier: 12 },
    }),
  }),
});

builder.queryFields((t) => ({
  me: t.prismaField({
    type: ViewerRef,
    nullable: true,
    description: 'The signed-in person; null when the request has no token (or is a service call).',
    resolve: (query, _root, _args, ctx) =>
      ctx.viewer.role === 'user' || ctx.viewer.role === 'admin'
        ? profiles.me(ctx, ctx.viewer.userId, query)
        : null,
  }),
  profile: t.field({
    type: PublicProfileRef,
    nullable: true,
    args: { handle: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => profiles.profileByHandle(ctx, args.handle),
  }),
}));
