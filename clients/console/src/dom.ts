/** Tiny DOM helpers: text goes in as text (never HTML), so nothing from the API is ever parsed as markup. */

type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

export function button(
  label: string,
  onClick: (target: HTMLButtonElement) => void,
  className = '',
): HTMLButtonElement {
  const node = el('button', { text: label, className, attrs: { type: 'button' } });
  node.addEventListener('click', () => onClick(node));
  return node;
}

/** A table inside a horizontally scrolling box (narrow screens scroll the table, not the page). */
export function table(headers: string[], rows: Child[][], label: string): HTMLElement {
  const head = el('tr', {}, ...headers.map((h) => el('th', { text: h, attrs: { scope: 'col' } })));
  const body = rows.map((cells) =>
    el('tr', {}, ...cells.map((cell) => el('td', {}, typeof cell === 'string' ? cell : cell))),
  );
  const t = el('table', { attrs: { 'aria-label': label } }, el('thead', {}, head), el('tbody', {}, ...body));
  return el('div', { className: 'table-box' }, t);
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return el('section', { className: 'panel' }, el('h2', { text: title }), ...children);
}

export function notice(text: string, kind: 'info' | 'error' | 'ok' = 'info'): HTMLElement {
  return el('p', {
    className: `notice ${kind}`,
    text,
    attrs: { role: kind === 'error' ? 'alert' : 'status' },
  });
}

/** A horizontal bar for a share 0..1 (width set through the CSSOM, which the CSP allows). */
export function bar(share: number, label: string): HTMLElement {
  const fill = el('span', { className: 'bar-fill' });
  fill.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  return el('span', { className: 'bar', attrs: { role: 'img', 'aria-label': label } }, fill);
}

const numberFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });

export function fmt(value: number | null | undefined, unit = ''): string {
  if (value === null || value === undefined) return '—';
  return `${numberFormat.format(value)}${unit}`;
}

export const pct = (value: number | null | undefined): string =>
  value === null || value === undefined ? '—' : `${numberFormat.format(value * 100)}%`;

export function ago(iso: string | null | undefined): string {
  if (!iso) return '—';
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

export const time = (iso: string): string => new Date(iso).toLocaleString('en-GB', { hour12: false });

export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${numberFormat.format(value)} ${units[unit]}`;
}
