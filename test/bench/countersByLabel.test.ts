import { describe, expect, it } from 'vitest';
import { countersByLabel } from '../../bench/shared/gatewayProcess.js';

/** The feed bench reads the gateway's kept-candidates outcomes from its /metrics text. */
describe('countersByLabel', () => {
  const text = [
    '# HELP lodestar_feed_candidate_memory_total Personal feed pages by …',
    '# TYPE lodestar_feed_candidate_memory_total counter',
    'lodestar_feed_candidate_memory_total{outcome="hit"} 1234',
    'lodestar_feed_candidate_memory_total{outcome="miss"} 56',
    'lodestar_feed_candidate_memory_total{instance="a",outcome="short"} 7',
    'lodestar_feed_candidate_memory_total{outcome="short",instance="b"} 3',
    'lodestar_feed_candidate_memory_total_created{outcome="hit"} 1733472000',
    'lodestar_feed_fallback_total{outcome="hit"} 99',
  ].join('\n');

  it('sums each value of the label over the series of that metric only', () => {
    expect(countersByLabel(text, 'lodestar_feed_candidate_memory_total', 'outcome')).toEqual({
      hit: 1234,
      miss: 56,
      short: 10,
    });
  });

  it('is empty for a metric the text does not have', () => {
    expect(countersByLabel(text, 'lodestar_feed_nothing_total', 'outcome')).toEqual({});
  });
});
