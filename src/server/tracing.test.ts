import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { GraphQLInt, GraphQLList, GraphQLObjectType, GraphQLSchema, GraphQLString, graphql } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { traceCostlyResolvers } from './tracing.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

/** Field weights and multipliers as Pothos's complexity plugin keeps them (field.extensions.complexity). */
function schemaWithCosts() {
  return new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: {
        feed: {
          type: new GraphQLList(GraphQLString),
          args: { first: { type: GraphQLInt } },
          extensions: {
            complexity: (args: { first?: number }) => ({ field: 5, multiplier: args.first ?? 10 }),
          },
          // The span is active while it runs: whatever it awaits nests under it.
          resolve: async () => [trace.getActiveSpan() ? 'inside a span' : 'no span'],
        },
        name: { type: GraphQLString, resolve: () => (trace.getActiveSpan() ? 'inside a span' : 'no span') },
        tags: { type: new GraphQLList(GraphQLString), resolve: () => ['a'] },
        broken: {
          type: new GraphQLList(GraphQLString),
          extensions: { complexity: 20 },
          resolve: () => Promise.reject(new Error('the store is down')),
        },
      },
    }),
  });
}

describe('traceCostlyResolvers', () => {
  beforeAll(() => {
    // The tracer provider, AsyncLocalStorage context and propagator, as startTracing registers them.
    provider.register();
  });
  afterAll(async () => {
    trace.disable();
    context.disable();
    propagation.disable();
    await provider.shutdown();
  });
  beforeEach(() => exporter.reset());

  it('gives a resolver a span when its weight × page size reaches the threshold, not otherwise', async () => {
    const schema = schemaWithCosts();
    traceCostlyResolvers(schema, 10);
    const big = await graphql({ schema, source: '{ feed(first: 4) name tags }' });
    expect(big.data).toEqual({ feed: ['inside a span'], name: 'no span', tags: ['a'] });
    // feed: 5 × 4 = 20; tags: an unweighted list, 1 × 10 = 10; name: 1.
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.attributes['lodestar.cost']])).toEqual(
      expect.arrayContaining([
        ['resolve Query.feed', 20],
        ['resolve Query.tags', 10],
      ]),
    );
    expect(spans).toHaveLength(2);
    expect(spans.find((s) => s.name === 'resolve Query.feed')?.attributes['graphql.field.path']).toBe('feed');

    exporter.reset();
    // A cost that depends on the arguments is judged per call: 5 × 1 is below the threshold.
    const small = await graphql({ schema, source: '{ feed(first: 1) }' });
    expect(small.data).toEqual({ feed: ['no span'] });
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('marks the span of a failing resolver failed with its error, and the error still reaches the response', async () => {
    const schema = schemaWithCosts();
    traceCostlyResolvers(schema, 10);
    const result = await graphql({ schema, source: '{ broken }' });
    expect(result.errors?.[0]?.message).toBe('the store is down');
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('resolve Query.broken');
    expect(span?.status).toEqual({ code: 2, message: 'the store is down' });
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
  });
});
