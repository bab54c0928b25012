import type { Result } from '../api.js';
import { timeChart } from '../chart.js';
import { ago, bar, button, el, fmt, pct, table } from '../dom.js';
import type { PageContext, PageDef } from '../page.js';

type Data = Result<'ConsoleFlags'>['ops'];
type Flag = Data['flags'][number];

/** The rollout steps advanceRollout walks. */
const STEPS = [0, 1, 5, 25, 100];

function rolloutResult(
  verb: string,
  r: { auditId: string; flag: { key: string; rolloutPct: number; state: string } },
): string {
  return `${r.flag.key} ${verb}: now ${r.flag.rolloutPct}% ${r.flag.state} (audit #${r.auditId})`;
}

function controls(ctx: PageContext, flag: Flag): HTMLElement {
  const next = STEPS.find((s) => s > flag.rolloutPct);
  const input = el('input', {
    attrs: {
      type: 'number',
      min: '0',
      max: '100',
      step: '1',
      value: String(flag.rolloutPct),
      'aria-label': `${flag.key} rollout percentage`,
    },
  });
  return el(
    'div',
    { className: 'actions' },
    next !== undefined
      ? button(`Advance to ${next}%`, () => {
          void ctx.act({
            title: `Advance ${flag.key} to ${next}%?`,
            detail: `More users see ${flag.key}: ${flag.rolloutPct}% → ${next}%. Auto-rollback keeps judging its traffic.`,
            name: 'ConsoleAdvanceRollout',
            variables: (reason) => ({ key: flag.key, reason }),
            done: (r) => rolloutResult('advanced', r.advanceRollout),
          });
        })
      : null,
    el(
      'span',
      { className: 'set' },
      input,
      button('Set', () => {
        const value = Number(input.value);
        if (!Number.isInteger(value) || value < 0 || value > 100) {
          input.setCustomValidity('A whole percentage from 0 to 100');
          input.reportValidity();
          return;
        }
        input.setCustomValidity('');
        void ctx.act({
          title: `Set ${flag.key} to ${value}%?`,
          detail: `${flag.key}: ${flag.rolloutPct}% → ${value}%.`,
          name: 'ConsoleSetRollout',
          variables: (reason) => ({ key: flag.key, rolloutPct: value, reason }),
          done: (r) => rolloutResult('set', r.setRollout),
        });
      }),
    ),
    flag.rolloutPct > 0
      ? button(
          'Roll back',
          () => {
            void ctx.act({
              title: `Roll ${flag.key} back to 0%?`,
              detail: `Everyone stops seeing ${flag.key} at once (state ROLLED_BACK).`,
              name: 'ConsoleRollback',
              variables: (reason) => ({ key: flag.key, reason }),
              done: (r) => rolloutResult('rolled back', r.rollback),
            });
          },
          'danger',
        )
      : null,
  );
}

function flagPanel(ctx: PageContext, flag: Flag, data: Data): HTMLElement {
  const exposure = data.flagExposureHistory.filter((s) => s.flagKey === flag.key);
  const over = (field: 'errorRate' | 'p95Ms' | 'requests') =>
    exposure.map((s) => ({ label: s.variant, points: s.points.map((p) => ({ at: p.at, value: p[field] })) }));
  const history = flag.history.map((h) => [
    ago(h.at),
    `${h.fromPct ?? '—'}% → ${h.toPct}%`,
    `${h.fromState ?? '—'} → ${h.toState}`,
    h.actor.startsWith('worker') || h.actor.startsWith('service') ? `${h.actor} (auto)` : h.actor,
    h.reason ?? '',
  ]);
  const t = flag.thresholds;
  const panel = el(
    'section',
    { className: `panel flag ${flag.state.toLowerCase()}`, attrs: { 'data-flag': flag.key } },
    el(
      'h2',
      {},
      flag.key,
      ' ',
      el('span', { className: `badge ${flag.state.toLowerCase()}`, text: flag.state }),
    ),
    flag.description ? el('p', { text: flag.description }) : null,
    el(
      'p',
      { className: 'with-bar' },
      bar(flag.rolloutPct / 100, `rollout ${flag.rolloutPct}%`),
      `${flag.rolloutPct}% of users`,
    ),
    el(
      'p',
      { className: 'meta' },
      `complaints ${flag.complaints} (limit ${t.maxComplaints}) · max error rate ${pct(t.maxErrorRate)} · max p95 ${fmt(t.maxP95Multiplier)}× baseline`,
    ),
    controls(ctx, flag),
    el(
      'div',
      { className: 'charts' },
      timeChart(`${flag.key}: exposed requests by variant`, over('requests'), (v) => fmt(v)),
      timeChart(`${flag.key}: error rate by variant`, over('errorRate'), (v) => pct(v)),
      timeChart(`${flag.key}: p95 by variant`, over('p95Ms'), (v) => `${fmt(v)} ms`),
    ),
    el('h3', { text: 'Rollout history' }),
    history.length > 0
      ? table(['when', 'rollout', 'state', 'by', 'reason'], history, `${flag.key} history`)
      : el('p', { className: 'empty', text: 'No changes yet.' }),
  );
  return panel;
}

export const flags: PageDef = {
  title: 'Flags',
  question: 'Where is each rollout, is its exposed traffic healthy, and who changed it?',
  charts: true,
  async render(ctx) {
    const data = (await ctx.run('ConsoleFlags', { since: ctx.since })).ops;
    if (data.flags.length === 0)
      return [el('p', { className: 'empty', text: 'No feature flags yet (saveFlag creates one).' })];
    return data.flags.map((flag) => flagPanel(ctx, flag, data));
  },
};
