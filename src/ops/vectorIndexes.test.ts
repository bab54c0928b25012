import { describe, expect, it } from 'vitest';
import { rebuildDefinition } from './vectorIndexes.js';

describe('rebuildDefinition', () => {
  it('renames the index, builds it concurrently and replaces its WITH options', () => {
    expect(
      rebuildDefinition(
        "CREATE INDEX listings_ivf ON public.marketplace_listings USING ivfflat (embedding vector_cosine_ops) WITH (lists='200')",
        'listings_ivf_rebuild',
        ['lists=400'],
      ),
    ).toBe(
      'CREATE INDEX CONCURRENTLY listings_ivf_rebuild ON public.marketplace_listings USING ivfflat (embedding vector_cosine_ops) WITH (lists = 400)',
    );
  });

  it('keeps a partial index’s WHERE after the new options', () => {
    expect(
      rebuildDefinition(
        "CREATE INDEX p_hnsw ON public.profiles USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64') WHERE (embedding IS NOT NULL)",
        'p_hnsw_rebuild',
        ['m=24', 'ef_construction=64'],
      ),
    ).toBe(
      'CREATE INDEX CONCURRENTLY p_hnsw_rebuild ON public.profiles USING hnsw (embedding vector_cosine_ops) WITH (m = 24, ef_construction = 64) WHERE (embedding IS NOT NULL)',
    );
  });
});
