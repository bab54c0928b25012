import type { TasteChooser } from './createTasteChooser.js';
import { DAY_MS } from './timeSpans.js';

/** The engagement rows the seeder writes, and what one user's generation passes between its parts. */

export interface LikePlan {
  userIndex: number[];
  listingIndex: number[];
  createdAt: number[];
}

export interface CommentPlan {
  /** Comment ids are 1..n in created_at order, as a live app would have assigned them. */
  listingIndex: number[];
  userIndex: number[];
  bodies: string[];
  createdAt: number[];
  updatedAt: number[];
  /** null while visible; soft-deleted comments do not count toward comment_count. */
  deletedAt: (number | null)[];
}

/** Views precede a like by up to this long; so do comments, or follow it. */
export const VIEW_LEAD_MS = 2 * DAY_MS;

export interface UserWindow {
  from: number;
  to: number;
  /** Position in the user's drift at an instant: 0 at `from`, 1 at `to` and after. */
  progress(at: number): number;
}

export interface UserHistory {
  /** This user's likes are likes[firstLike..]. */
  firstLike: number;
  likes: LikePlan;
  chooser: TasteChooser;
  window: UserWindow;
}
