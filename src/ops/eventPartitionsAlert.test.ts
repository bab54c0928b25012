import { describe, expect, it } from 'vitest';
import { eventPartitionsAlert } from './alerts.js';

const now = new Date('2026-12-05T12:00:00Z');
const days = (n: number) => new Date(now.getTime() + n * 86_400_000);

describe('eventPartitionsAlert', () => {
  it('is quiet while both logs reach the threshold ahead and their default partitions are empty', () => {
    const alert = eventPartitionsAlert(
      [
        { parent: 'learning_events', defaultRows: 0, coveredUntil: days(30) },
        { parent: 'intent_signals', defaultRows: 0, coveredUntil: days(23.5) },
      ],
      now,
      { eventPartitionDays: 7 },
    );
    expect(alert).toMatchObject({ rule: 'event_log_partitions', firing: false, value: 23.5, threshold: 7 });
  });

  it('fires when one log runs short of weeks, naming it and how far it reaches', () => {
    const alert = eventPartitionsAlert(
      [
        { parent: 'learning_events', defaultRows: 0, coveredUntil: days(30) },
        { parent: 'intent_signals', defaultRows: 0, coveredUntil: days(2) },
      ],
      now,
      { eventPartitionDays: 7 },
    );
    expect(alert.firing).toBe(true);
    expect(alert.value).toBe(2);
    expect(alert.message).toContain("intent_signals's partitions reach 2.0 days ahead");
  });

  it('fires when rows landed in a default partition, even with weeks ahead', () => {
    const alert = eventPartitionsAlert(
      [
        { parent: 'learning_events', defaultRows: 1000, coveredUntil: days(30) },
        { parent: 'intent_signals', defaultRows: 0, coveredUntil: days(30) },
      ],
      now,
      { eventPartitionDays: 7 },
    );
    expect(alert.firing).toBe(true);
    expect(alert.message).toContain('learning_events_default holds 1,000+ rows');
  });

  it('treats a log with no weekly partition at all as reaching 0 days', () => {
    const alert = eventPartitionsAlert(
      [{ parent: 'learning_events', defaultRows: 0, coveredUntil: null }],
      now,
      { eventPartitionDays: 7 },
    );
    expect(alert).toMatchObject({ firing: true, value: 0 });
  });
});
