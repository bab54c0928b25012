import { describe, expect, it } from 'vitest';
import { readEventPayload, type EventPayloads } from '../../src/queue/events.js';
import { PermanentJobError } from '../../src/queue/leaseQueue.js';
import type { WriteTx } from '../../src/social/runWrite.js';

describe('event payloads', () => {
  it('reads what a handler needs, ids stored as numbers or strings', () => {
    expect(readEventPayload('like.created', { userId: 'u1', listingId: '12', sellerId: 's' })).toEqual({
      userId: 'u1',
      listingId: 12,
    });
    expect(readEventPayload('interests.changed', { userId: 'u1', added: [3, '4'], removed: [] })).toEqual({
      added: [3, 4],
    });
    expect(readEventPayload('follow.created', null)).toEqual({});
  });

  it('refuses a stored payload that does not fit, naming the field', () => {
    expect(() => readEventPayload('like.deleted', {})).toThrow(
      new PermanentJobError('payload.listingId is missing'),
    );
    expect(() => readEventPayload('comment.created', { listingId: 'abc' })).toThrow(
      'payload.listingId must be an integer id',
    );
    expect(() => readEventPayload('interests.changed', { added: [1, 'x'] })).toThrow(
      'payload.added must be a list of integer ids',
    );
  });

  it('a wrong payload at enqueue is a type error', () => {
    const enqueued: unknown[] = [];
    const tx: Pick<WriteTx, 'enqueue'> = {
      enqueue: async (kind, payload) => {
        enqueued.push([kind, payload]);
      },
    };
    const like: EventPayloads['like.created'] = { userId: 'u', listingId: 1, sellerId: 's' };
    void tx.enqueue('like.created', like);
    // @ts-expect-error listingId is a number
    void tx.enqueue('like.created', { userId: 'u', listingId: '1', sellerId: 's' });
    // @ts-expect-error follow events carry follower and followee, not userId
    void tx.enqueue('follow.created', { userId: 'u' });
    // @ts-expect-error no such kind
    void tx.enqueue('like.updated', like);
    expect(enqueued).toHaveLength(4);
  });
});
