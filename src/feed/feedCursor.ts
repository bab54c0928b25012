import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { createBadUserInputError } from '../errors/errors.js';

/** Where a feed session stands: the next page starts at `position`; `seed` keeps exploration stable. */
export interface FeedCursor {
  session: string;
  position: number;
  seed: number;
}

const cursorSchema = z
  .object({
    v: z.literal(1),
    s: z.string().uuid(),
    p: z.number().int().min(0).max(10_000),
    r: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
  })
  .strict();

function sign(payload: string, key: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url').slice(0, 22);
}

/** Feed cursors are signed: a cursor the gateway did not issue is refused, not silently reinterpreted. */
export function encodeFeedCursor(cursor: FeedCursor, key: string): string {
  const payload = Buffer.from(
    JSON.stringify({ v: 1, s: cursor.session, p: cursor.position, r: cursor.seed }),
  ).toString('base64url');
  return `${payload}.${sign(payload, key)}`;
}

export function decodeFeedCursor(text: string, key: string): FeedCursor {
  const fail = () => createBadUserInputError('after is not a valid cursor for this feed', 'after');
  const [payload, signature, extra] = text.split('.');
  if (!payload || !signature || extra !== undefined || text.length > 300) throw fail();
  const expected = Buffer.from(sign(payload, key));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw fail();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw fail();
  }
  const result = cursorSchema.safeParse(parsed);
  if (!result.success) throw fail();
  return { session: result.data.s, position: result.data.p, seed: result.data.r };
}
