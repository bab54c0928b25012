import type { Viewer } from './viewer.js';

/** Who ran an admin action: a signed-in admin (GraphQL), the CLI, or the worker's schedule. */
export interface OpsActor {
  /** The admin's user id; null for the CLI and the worker. */
  id: string | null;
  /** 'admin', 'cli' or 'worker'. */
  role: string;
  /** The GraphQL request id, or `cli:<user>@<host>` / `worker:<task>`. */
  requestId: string | null;
}

export const actorOf = (ctx: { viewer: Viewer; requestId: string }): OpsActor => ({
  id: ctx.viewer.userId,
  role: ctx.viewer.role,
  requestId: ctx.requestId,
});
