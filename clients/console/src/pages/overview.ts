import type { OperationName, Result } from '../api.js';
import { button, el, fmt, section } from '../dom.js';
import type { PageContext, PageDef } from '../page.js';

type Alert = Result<'ConsoleOverview'>['ops']['alerts'][number];

/** The ops mutations alerts offer as remedies, as the console's operations. */
const remedyOperations: Record<string, OperationName> = {
  requeueStuckEvents: 'ConsoleRequeueStuckEvents',
  requeueStuckDiscovery: 'ConsoleRequeueStuckDiscovery',
  requeueDiscoveryErrors: 'ConsoleRequeueDiscoveryErrors',
  analyzeHotTables: 'ConsoleAnalyzeHotTables',
  backfillProfileEmbeddings: 'ConsoleBackfillProfileEmbeddings',
  measureVectorRecall: 'ConsoleMeasureVectorRecall',
};

/** What a remedy did, in a sentence, from whichever result shape it has. */
export function outcome(result: Record<string, unknown>): string {
  const [payload] = Object.values(result) as Record<string, unknown>[];
  if (!payload) return 'done';
  const parts: string[] = [];
  if (typeof payload.requeued === 'number') parts.push(`${payload.requeued} item(s) requeued`);
  if (Array.isArray(payload.tables)) parts.push(`analyzed ${payload.tables.length} table(s)`);
  const progress = payload.progress as { processed?: number; remaining?: number } | undefined;
  if (progress)
    parts.push(`backfill: ${progress.processed ?? 0} processed, ${progress.remaining ?? 0} remaining`);
  if (Array.isArray(payload.measurements)) parts.push(`measured ${payload.measurements.length} index(es)`);
  return `${parts.join(', ') || 'done'} (audit #${String(payload.auditId)})`;
}

export function remedyButton(ctx: PageContext, remedy: string, why: string): HTMLElement | null {
  const name = remedyOperations[remedy];
  if (!name) return null;
  return button(remedy, () => {
    void ctx.act({
      title: `Run ${remedy}?`,
      detail: why,
      name,
      variables: (reason) => ({ reason }),
      done: (result) => `${remedy}: ${outcome(result as Record<string, unknown>)}`,
    });
  });
}

function alertCard(ctx: PageContext, alert: Alert): HTMLElement {
  const state = alert.firing ? 'firing' : 'ok';
  const remedies = alert.remedies.map((r) =>
    remedyButton(ctx, r, `For the alert ${alert.rule}: ${alert.action}`),
  );
  return el(
    'li',
    { className: `alert ${state} ${alert.severity.toLowerCase()}`, attrs: { 'data-rule': alert.rule } },
    el(
      'div',
      { className: 'alert-head' },
      el('span', { className: `state ${state}`, text: alert.firing ? 'FIRING' : 'OK' }),
      el('span', { className: 'severity', text: alert.severity.toLowerCase() }),
      el('h3', { text: alert.rule }),
      el('span', {
        className: 'value',
        text: `value ${fmt(alert.value)} · threshold ${fmt(alert.threshold)}`,
      }),
    ),
    el('p', { className: 'message', text: alert.message }),
    el('p', { className: 'runbook' }, el('strong', { text: 'Runbook: ' }), alert.action),
    remedies.some(Boolean) ? el('div', { className: 'actions' }, ...remedies) : null,
  );
}

export const overview: PageDef = {
  title: 'Overview',
  question: 'Is anything wrong right now, and what does the runbook say to do?',
  charts: false,
  async render(ctx) {
    const data = await ctx.run('ConsoleOverview', {});
    // Firing first (critical before warning), then the quiet ones in the runbook's order.
    const rank = (a: Alert) => (a.firing ? 0 : 2) + (a.severity === 'CRITICAL' ? 0 : 1);
    const alerts = [...data.ops.alerts].sort((a, b) => rank(a) - rank(b));
    const firing = alerts.filter((a) => a.firing).length;
    const summary = el('p', {
      className: `summary ${firing > 0 ? 'bad' : 'good'}`,
      text: firing > 0 ? `${firing} of ${alerts.length} alerts firing` : `All ${alerts.length} alerts quiet`,
    });
    return [
      summary,
      section('Alerts', el('ul', { className: 'alerts' }, ...alerts.map((a) => alertCard(ctx, a)))),
    ];
  },
};
