import './console.css';
import { RequestError, run, type OperationName, type Result, type Variables } from './api.js';
import { destroyCharts } from './chart.js';
import { confirmAction } from './dialog.js';
import { button, el, notice } from './dom.js';
import { RANGE_MS, type PageContext, type PageDef, type PageName, type Range } from './page.js';
import { audit } from './pages/audit.js';
import { experiments } from './pages/experiments.js';
import { flags } from './pages/flags.js';
import { latency } from './pages/latency.js';
import { overview } from './pages/overview.js';
import { queues } from './pages/queues.js';
import { vectors } from './pages/vectors.js';

interface ConsoleConfig {
  endpoint: string;
  /** Development: the seeded admin's token, for "Sign in as @admin"; null otherwise. */
  demoAdminToken: string | null;
}

const config = JSON.parse(document.getElementById('console-config')?.textContent ?? '{}') as ConsoleConfig;
const TOKEN_KEY = 'lodestar.console.token';
const REFRESH_MS = 30_000;

const pages: Record<PageName, PageDef> = { overview, queues, latency, vectors, flags, experiments, audit };
const app = document.getElementById('app') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let range: Range = 'hour';
/** Messages from the last action, shown above the page until the next one. */
let flash: HTMLElement | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
/** Increases with every draw, so a slow answer for a page no longer on screen is dropped. */
let drawn = 0;

function currentPage(): PageName {
  const name = location.hash.replace(/^#\/?/, '');
  return name in pages ? (name as PageName) : 'overview';
}

function signOut(message?: HTMLElement): void {
  token = null;
  flash = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(refreshTimer);
  destroyCharts();
  showSignIn(message);
}

/** A request as the signed-in admin; a rejected token signs out with the reason. */
async function request<N extends OperationName>(name: N, variables: Variables<N>): Promise<Result<N>> {
  if (!token) throw new RequestError('not signed in', 'UNAUTHENTICATED');
  try {
    return await run({ endpoint: config.endpoint, token }, name, variables);
  } catch (error) {
    if (error instanceof RequestError && error.code === 'UNAUTHENTICATED') {
      signOut(notice(`Signed out: ${error.message}`, 'error'));
    }
    throw error;
  }
}

const context = (): PageContext => ({
  run: request,
  range,
  since: new Date(Date.now() - RANGE_MS[range]).toISOString(),
  go: (page) => {
    if (currentPage() === page) void draw();
    else location.hash = `#${page}`;
  },
  async act(action) {
    const reason = await confirmAction(action.title, action.detail);
    if (reason === null) return;
    try {
      const refused = action.precheck ? await action.precheck() : null;
      if (refused !== null) {
        flash = notice(refused, 'error');
        await draw();
        return;
      }
      const result = await request(action.name, action.variables(reason));
      flash = notice(action.done(result), 'ok');
    } catch (error) {
      const code = error instanceof RequestError ? ` (${error.code})` : '';
      flash = notice(
        `${action.title.replace(/\?$/, '')} failed: ${(error as Error).message}${code}`,
        'error',
      );
    }
    await draw();
  },
});

function rangePicker(): HTMLElement {
  const choices: Range[] = ['hour', 'day', 'week'];
  return el(
    'div',
    { className: 'range', attrs: { role: 'group', 'aria-label': 'Chart window' } },
    ...choices.map((choice) => {
      const b = button(`Last ${choice}`, () => {
        range = choice;
        void draw();
      });
      b.setAttribute('aria-pressed', String(choice === range));
      return b;
    }),
  );
}

function drawNav(active: PageName): void {
  nav.replaceChildren(
    ...Object.entries(pages).map(([name, page]) =>
      el('a', {
        text: page.title,
        attrs: { href: `#${name}`, ...(name === active ? { 'aria-current': 'page' } : {}) },
      }),
    ),
  );
}

/** Draws the current page from fresh data; every 30 s again while it is on screen and no dialog is open. */
async function draw(): Promise<void> {
  if (!token) return;
  clearTimeout(refreshTimer);
  const name = currentPage();
  const page = pages[name];
  const mine = ++drawn;
  drawNav(name);
  document.title = `Lodestar console · ${page.title}`;
  const head = el(
    'div',
    { className: 'page-head' },
    el('div', {}, el('h1', { text: page.title }), el('p', { className: 'question', text: page.question })),
    el(
      'div',
      { className: 'page-tools' },
      page.charts ? rangePicker() : null,
      button('Refresh', () => void draw()),
    ),
  );
  let body: Node[];
  try {
    body = await page.render(context());
  } catch (error) {
    if (!token) return;
    const code = error instanceof RequestError ? error.code : '';
    body = [
      code === 'FORBIDDEN'
        ? notice('This token is not an admin’s: the console shows ops data to admins only.', 'error')
        : notice(
            `Could not load ${page.title}: ${(error as Error).message}${code ? ` (${code})` : ''}`,
            'error',
          ),
    ];
  }
  if (mine !== drawn || !token) return;
  destroyCharts();
  const messages = flash;
  flash = null;
  app.replaceChildren(head, ...(messages ? [messages] : []), ...body);
  app.dataset.page = name;
  app.dataset.ready = String(mine);
  if (page.refresh === false) return;
  refreshTimer = setTimeout(function refresh() {
    if (busy()) refreshTimer = setTimeout(refresh, REFRESH_MS);
    else void draw();
  }, REFRESH_MS);
}

/**
 * Not the moment to draw the page again: a dialog is open, the tab is hidden (no requests for a page
 * nobody looks at), or the admin is typing into the page or has changed a field without saving.
 */
function busy(): boolean {
  if (document.querySelector('dialog[open]') || document.visibilityState === 'hidden') return true;
  const fields = [...app.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input, textarea')];
  return fields.some((field) => field === document.activeElement || field.value !== field.defaultValue);
}

/** Signs in with a token only when it is an admin's: anyone else gets a refusal and no data. */
async function signIn(candidate: string, status: HTMLElement): Promise<void> {
  sessionStorage.removeItem(TOKEN_KEY);
  const value = candidate.trim().replace(/^Bearer\s+/i, '');
  if (!value) {
    status.replaceChildren(notice('Paste a token first.', 'error'));
    return;
  }
  status.replaceChildren(notice('Checking the token…'));
  try {
    const { me } = await run({ endpoint: config.endpoint, token: value }, 'ConsoleMe', {});
    if (!me) {
      status.replaceChildren(notice('The gateway did not accept this token.', 'error'));
      return;
    }
    if (me.role !== 'ADMIN') {
      status.replaceChildren(
        notice(
          `@${me.handle} is a ${me.role.toLowerCase()}, not an admin: the console is for admins only.`,
          'error',
        ),
      );
      return;
    }
    token = value;
    sessionStorage.setItem(TOKEN_KEY, value);
    who.textContent = `@${me.handle}`;
    document.body.classList.add('signed-in');
    await draw();
  } catch (error) {
    const code = error instanceof RequestError ? ` (${error.code})` : '';
    status.replaceChildren(notice(`Sign-in failed: ${(error as Error).message}${code}`, 'error'));
  }
}

function showSignIn(message?: HTMLElement): HTMLElement {
  document.body.classList.remove('signed-in');
  who.textContent = '';
  nav.replaceChildren();
  const input = el('textarea', {
    attrs: { id: 'token', rows: '4', autocomplete: 'off', spellcheck: 'false', placeholder: 'eyJhbGciOi…' },
  });
  const status = el('div', { attrs: { 'aria-live': 'polite' } });
  const form = el(
    'form',
    { className: 'signin panel' },
    el('h1', { text: 'Sign in' }),
    el('p', {
      text: 'Paste an admin’s bearer token (npm run token -- --role admin …). It stays in this tab’s session storage and goes only to this gateway.',
    }),
    el('label', { text: 'Admin token', attrs: { for: 'token' } }),
    input,
    el(
      'div',
      { className: 'actions' },
      el('button', { text: 'Sign in', attrs: { type: 'submit' } }),
      config.demoAdminToken
        ? button('Sign in as @admin (development)', () => void signIn(config.demoAdminToken ?? '', status))
        : null,
    ),
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(input.value, status);
  });
  if (message) status.append(message);
  app.replaceChildren(form);
  delete app.dataset.page;
  return status;
}

document.getElementById('sign-out')?.addEventListener('click', () => signOut(notice('Signed out.')));
window.addEventListener('hashchange', () => void draw());
// Back to a tab that was hidden through a refresh: draw it fresh at once.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && token && !busy()) void draw();
});

// A reload keeps the session: the stored token is checked again before anything is shown.
const stored = token;
token = null;
const status = showSignIn();
if (stored) void signIn(stored, status);
