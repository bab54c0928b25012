import { builder } from '../builder.js';
import type { CategoryAffinity, ListingFeatures, UserFeatures } from '../features/featureKinds.js';
import * as features from '../resolvers/features.js';
import { ListingRef } from './catalog.js';
import { ViewerRef } from './profile.js';

const CategoryAffinityRef = builder.objectRef<CategoryAffinity>('CategoryAffinity').implement({
  fields: (t) => ({
    categoryId: t.exposeID('categoryId'),
    slug: t.exposeString('slug'),
    affinity: t.exposeFloat('affinity', {
      description: 'Sum of the user’s interest affinities in the category.',
    }),
  }),
});

const ctrDescription = 'Rewards per feed impression over the last 30 days; null without impressions.';

const UserFeaturesRef = builder.objectRef<UserFeatures>('UserFeatures').implement({
  description: 'Behavioural features of a user, cached for about an hour (see the README’s feature store).',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    interestCount: t.exposeInt('interestCount'),
    topCategories: t.field({
      type: [CategoryAffinityRef],
      description: 'Up to 5, strongest first.',
      resolve: (f) => f.topCategories,
    }),
    likesGiven: t.exposeInt('likesGiven'),
    likesReceived: t.exposeInt('likesReceived', { description: 'Likes on the user’s listings.' }),
    commentsGiven: t.exposeInt('commentsGiven'),
    commentsReceived: t.exposeInt('commentsReceived', { description: 'Comments on the user’s listings.' }),
    followsGiven: t.exposeInt('followsGiven'),
    followers: t.exposeInt('followers'),
    lastActivityAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Latest like, comment, follow or signal.',
      resolve: (f) => (f.lastActivityAt ? new Date(f.lastActivityAt) : null),
    }),
    feedImpressions30d: t.exposeInt('feedImpressions30d'),
    feedCtr30d: t.exposeFloat('feedCtr30d', { nullable: true, description: ctrDescription }),
  }),
});

const ListingFeaturesRef = builder.objectRef<ListingFeatures>('ListingFeatures').implement({
  description: 'Features of a listing, cached for about an hour.',
  fields: (t) => ({
    categoryId: t.exposeID('categoryId'),
    categorySlug: t.exposeString('categorySlug'),
    likeCount: t.exposeInt('likeCount'),
    commentCount: t.exposeInt('commentCount'),
    popularity: t.exposeFloat('popularity'),
    ageSeconds: t.float({
      description: 'Seconds since it was listed, as of this request.',
      resolve: (f) => Math.max(0, (Date.now() - Date.parse(f.createdAt)) / 1000),
    }),
    feedImpressions30d: t.exposeInt('feedImpressions30d'),
    feedCtr30d: t.exposeFloat('feedCtr30d', { nullable: true, description: ctrDescription }),
  }),
});

builder.objectField(ViewerRef, 'features', (t) =>
  t.field({
    type: UserFeaturesRef,
    description: 'The viewer’s own features.',
    resolve: (profile, _args, ctx) => features.userFeatures(ctx, profile.userId),
  }),
);

builder.objectField(ListingRef, 'features', (t) =>
  t.field({
    type: ListingFeaturesRef,
    description: 'Engagement features; a page of listings reads them in one batch.',
    resolve: (listing, _args, ctx) => features.listingFeatures(ctx, listing.id),
  }),
);

builder.queryFields((t) => ({
  userFeatures: t.field({
    type: UserFeaturesRef,
    description: 'A user’s features: your own, or anyone’s for admins (others get FORBIDDEN).',
    authScopes: { user: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => features.userFeatures(ctx, String(args.userId)),
  }),
}));
