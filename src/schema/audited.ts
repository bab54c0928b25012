import { builder } from '../builder.js';

export interface Audited {
  auditId: string;
  durationMs: number;
}

/** Every action's result says which ops_audit row recorded it and how long it took. */
export const AuditedRef = builder.interfaceRef<Audited>('AuditedAction').implement({
  fields: (t) => ({
    auditId: t.id({ description: 'The ops_audit row of this action.', resolve: (r) => r.auditId }),
    durationMs: t.float({ resolve: (r) => r.durationMs }),
  }),
});
