/** Who is asking. Resolved once per request, while the context is built. */
export type Viewer = AnonymousViewer | UserViewer | ServiceViewer;

export interface AnonymousViewer {
  role: 'anonymous';
  userId: null;
}

/** A signed-in person; admins are people with the admin role. */
export interface UserViewer {
  role: 'user' | 'admin';
  userId: string;
}

/** Another backend calling us (workers, jobs); not a person. */
export interface ServiceViewer {
  role: 'service';
  userId: null;
  subject: string;
}

export const anonymousViewer: AnonymousViewer = Object.freeze({ role: 'anonymous', userId: null });

export const isSignedIn = (viewer: Viewer): viewer is UserViewer =>
  viewer.role === 'user' || viewer.role === 'admin';
