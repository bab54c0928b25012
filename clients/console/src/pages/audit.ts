import type { Result } from '../api.js';
import { el, fmt, section, table, time, button } from '../dom.js';
import type { PageDef } from '../page.js';

type Entry = Result<'ConsoleAudit'>['ops']['auditLog']['edges'][number]['node'];

/** The filter form's values survive redraws (refresh, an action) while the console is open. */
const filter = { actor: '', action: '', since: '', until: '' };

/** datetime-local gives local wall time without a zone; the API wants an instant. */
const instant = (local: string): string | null => (local ? new Date(local).toISOString() : null);

function reasonOf(entry: Entry): string {
  try {
    const args = JSON.parse(entry.argsJson) as Record<string, unknown>;
    return typeof args.reason === 'string' ? args.reason : '';
  } catch {
    return '';
  }
}

function rows(entries: Entry[]): (string | Node)[][] {
  return entries.map((e) => [
    time(e.at),
    e.action,
    e.actorHandle ? `@${e.actorHandle}` : `${e.actorRole}${e.actorId ? ` ${e.actorId.slice(0, 8)}` : ''}`,
    reasonOf(e),
    e.ok ? 'ok' : `failed: ${e.error ?? ''}`,
    `${fmt(e.durationMs)} ms`,
    el('code', { className: 'args', text: e.argsJson }),
  ]);
}

export const audit: PageDef = {
  title: 'Audit',
  question: 'Who did what, when, why, and how did it end?',
  charts: false,
  refresh: false,
  async render(ctx) {
    const field = (name: keyof typeof filter, label: string, type: string, placeholder = '') => {
      const input = el('input', {
        attrs: { type, name, value: filter[name], placeholder, id: `audit-${name}` },
      });
      input.addEventListener('change', () => {
        filter[name] = input.value.trim();
      });
      return el('label', { text: label, attrs: { for: `audit-${name}` } }, input);
    };
    const form = el(
      'form',
      { className: 'filters' },
      field('actor', 'Actor', 'text', 'handle or user id'),
      field('action', 'Action', 'text', 'e.g. rollback'),
      field('since', 'From', 'datetime-local'),
      field('until', 'To', 'datetime-local'),
      el('button', { text: 'Filter', attrs: { type: 'submit' } }),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      for (const input of form.querySelectorAll('input'))
        filter[input.name as keyof typeof filter] = input.value.trim();
      ctx.go('audit');
    });
    const variables = {
      first: 50,
      actor: filter.actor || null,
      action: filter.action || null,
      since: instant(filter.since),
      until: instant(filter.until),
    };
    const page = (await ctx.run('ConsoleAudit', variables)).ops.auditLog;
    const entries = page.edges.map((e) => e.node);
    const headers = ['when', 'action', 'by', 'reason', 'result', 'took', 'arguments'];
    const box = el(
      'div',
      {},
      entries.length > 0
        ? table(headers, rows(entries), 'audit log')
        : el('p', { className: 'empty', text: 'No entries match.' }),
    );
    let after = page.pageInfo.endCursor;
    const more = button('Older entries', (target) => {
      target.disabled = true;
      void ctx.run('ConsoleAudit', { ...variables, after }).then(
        (next) => {
          const tbody = box.querySelector('tbody');
          for (const cells of rows(next.ops.auditLog.edges.map((e) => e.node))) {
            tbody?.append(el('tr', {}, ...cells.map((cell) => el('td', {}, cell))));
          }
          after = next.ops.auditLog.pageInfo.endCursor;
          target.disabled = false;
          if (!next.ops.auditLog.pageInfo.hasNextPage) target.remove();
        },
        (error: unknown) => {
          target.disabled = false;
          box.append(el('p', { className: 'notice error', text: String(error) }));
        },
      );
    });
    return [
      section('Filter', form),
      section('Entries (newest first)', box, page.pageInfo.hasNextPage ? more : null),
    ];
  },
};
