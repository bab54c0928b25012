import type { Result } from '../api.js';
import { timeChart, type Series } from '../chart.js';
import { el, fmt, section, table, ago } from '../dom.js';
import type { PageDef } from '../page.js';
import { remedyButton } from './overview.js';

type Data = Result<'ConsoleQueues'>['ops'];
type Health = Data['events'];

const seconds = (v: number) => (v >= 120 ? `${fmt(v / 60)} min` : `${fmt(v)} s`);

function series(data: Data, queue: string, metrics: Record<string, string>): Series[] {
  return Object.entries(metrics).map(([metric, label]) => ({
    label,
    points: data.history.find((s) => s.metric === metric && s.subject === queue)?.points ?? [],
  }));
}

function tiles(health: Health): HTMLElement {
  const tile = (label: string, value: string, bad = false) =>
    el(
      'div',
      { className: `tile${bad ? ' bad' : ''}` },
      el('span', { className: 'tile-label', text: label }),
      el('strong', { text: value }),
    );
  return el(
    'div',
    { className: 'tiles' },
    tile('queued', fmt(health.queued)),
    tile('in flight', fmt(health.inFlight)),
    tile('failed', fmt(health.error), health.error > 0),
    tile('done', fmt(health.done)),
    tile('p95 age', seconds(health.p95AgeSec)),
    tile('oldest', seconds(health.oldestAgeSec)),
    tile('3+ attempts', fmt(health.highRetryCount), health.highRetryCount > 0),
    tile('stuck leases', fmt(health.stuckLeases), health.stuckLeases > 0),
  );
}

export const queues: PageDef = {
  title: 'Queues',
  question: 'Are the worker queues keeping up, and what is stuck or failing?',
  charts: true,
  async render(ctx) {
    const data = (await ctx.run('ConsoleQueues', { since: ctx.since })).ops;
    const queue = (health: Health, name: 'events' | 'discovery', stuckRemedy: string, extra: Node[]) =>
      section(
        `${name} queue`,
        tiles(health),
        el(
          'div',
          { className: 'actions' },
          remedyButton(
            ctx,
            stuckRemedy,
            `Runbook "Worker Stuck": ${name} items whose lease expired go back to queued.`,
          ),
        ),
        el(
          'div',
          { className: 'charts' },
          timeChart(
            `${name}: depth by status`,
            series(data, name, {
              'queue.queued': 'queued',
              'queue.in_flight': 'in flight',
              'queue.error': 'failed',
            }),
            (v) => fmt(v),
          ),
          timeChart(
            `${name}: age of waiting items`,
            series(data, name, { 'queue.p95_age_sec': 'p95 age', 'queue.oldest_age_sec': 'oldest' }),
            seconds,
          ),
        ),
        ...extra,
      );
    const errors = data.discoveryErrors.map((e) => [
      e.id,
      e.reason,
      String(e.attempts),
      e.lastError ?? '',
      ago(e.updatedAt),
    ]);
    return [
      queue(data.events, 'events', 'requeueStuckEvents', []),
      queue(data.discovery, 'discovery', 'requeueStuckDiscovery', [
        el('h3', { text: 'Recent errors' }),
        errors.length > 0
          ? table(['item', 'reason', 'attempts', 'last error', 'when'], errors, 'discovery errors')
          : el('p', { className: 'empty', text: 'No failed discovery items.' }),
        el(
          'div',
          { className: 'actions' },
          remedyButton(
            ctx,
            'requeueDiscoveryErrors',
            'Runbook "Discovery Queue Backlog": failed items with fewer than 5 attempts go back to queued. Fix the cause first.',
          ),
        ),
      ]),
    ];
  },
};
