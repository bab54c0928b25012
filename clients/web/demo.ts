/**
 * The web feed page (/demo): the browser side. Plain TypeScript compiled by `npm run build` (tsc -p
 * clients/web) to dist/web/demo.js, an ES module the gateway serves; no framework, no bundler.
 *
 * It speaks to /graphql as a production web client would: the example client's operations
 * (clients/example) sent by their manifest id as automatic persisted queries (the document only when
 * the gateway does not know the id yet), the bearer token from session storage, and an Idempotency-Key
 * on every write, so a retried click never counts twice.
 */

type OperationName = 'Me' | 'FeedPage' | 'LikeListing' | 'UnlikeListing' | 'HideListing' | 'RecordFeedback';

interface DemoConfig {
  endpoint: string;
  demoToken: string | null;
  operations: Record<OperationName, { id: string; body: string }>;
}

interface Listing {
  id: string;
  title: string;
  price: number | string;
  currency: string;
  likeCount: number;
  commentCount: number;
  category: { slug: string; name: string } | null;
  seller: { id: string; handle: string } | null;
}

interface Suggestion {
  impressionId: string | null;
  position: number;
  source: string;
  listing: Listing;
}

interface FeedPage {
  suggestions: {
    edges: { cursor: string; node: Suggestion }[];
    fallback: { reason: string; source: string } | null;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

class RequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'lodestar-demo-token';
const PAGE_SIZE = 10;

const configElement = document.getElementById('demo-config');
const config = JSON.parse(configElement?.textContent ?? '{}') as DemoConfig;
const app = document.getElementById('app') as HTMLElement;
const header = document.querySelector('header') as HTMLElement;

/** A DOM element with text and children; user data only ever goes in as text, never as HTML. */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  children: (Node | null)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

function button(
  label: string,
  onClick: (target: HTMLButtonElement) => void,
  className = '',
): HTMLButtonElement {
  const node = el('button', { text: label, className, attrs: { type: 'button' } });
  node.addEventListener('click', () => onClick(node));
  return node;
}

let token: string | null = sessionStorage.getItem(TOKEN_KEY);

/** Stops the feed on screen (its observer and any page load in flight) before another replaces it. */
let stopFeed: () => void = () => undefined;

/**
 * One GraphQL request: the operation's id first (APQ); the document only if the gateway answers that it
 * does not know the id (PERSISTED_QUERY_NOT_FOUND), after which every gateway sharing its Redis does.
 */
async function run<T>(
  name: OperationName,
  variables: Record<string, unknown>,
  options: { idempotencyKey?: string } = {},
): Promise<T> {
  const operation = config.operations[name];
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  const extensions = { persistedQuery: { version: 1, sha256Hash: operation.id } };
  const send = async (withDocument: boolean) => {
    const response = await fetch(config.endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        operationName: name,
        variables,
        extensions,
        ...(withDocument ? { query: operation.body } : {}),
      }),
    });
    return (await response.json()) as { data?: T; errors?: GraphQLError[] };
  };
  let result = await send(false);
  if (result.errors?.some((e) => e.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND'))
    result = await send(true);
  const [error] = result.errors ?? [];
  if (error || !result.data) {
    throw new RequestError(
      error?.message ?? 'no data in the response',
      error?.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
    );
  }
  return result.data;
}

function showError(error: unknown, where: HTMLElement = app): void {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof RequestError ? ` (${error.code})` : '';
  where.prepend(el('p', { className: 'notice error', text: `${message}${code}`, attrs: { role: 'alert' } }));
}

function signOut(reason?: unknown): void {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  start();
  // Signed out by the gateway (an expired token): the sign-in screen says why.
  if (reason !== undefined) showError(reason);
}

function signIn(value: string): void {
  token = value.trim().replace(/^Bearer\s+/i, '');
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
}

function renderSignIn(): void {
  header.querySelector('.who')?.remove();
  const pasted = el('textarea', {
    attrs: {
      'aria-label': 'Bearer token',
      placeholder: 'Paste a bearer token (npm run token -- --handle …)',
    },
  });
  app.replaceChildren(
    el('section', { className: 'signin' }, [
      el('p', {
        text: 'Sign in to see your personalised feed. The token stays in this tab (session storage).',
      }),
      config.demoToken
        ? button('Sign in as @demo', () => signIn(config.demoToken ?? ''))
        : el('p', { className: 'meta', text: 'No demo account here: paste a token.' }),
      pasted,
      button('Sign in with this token', () => {
        if (pasted.value.trim()) signIn(pasted.value);
      }),
    ]),
  );
}

/** The feed: pages appended as the sentinel scrolls into view, each listing at most once. */
function renderFeed(handle: string): void {
  header.querySelector('.who')?.remove();
  header.append(
    el('span', { className: 'who' }, [
      el('span', { text: `@${handle} · ` }),
      button('Start over', () => start()),
      el('span', { text: ' ' }),
      button('Sign out', () => signOut()),
    ]),
  );
  const list = el('ul', { className: 'feed', attrs: { 'aria-label': 'Your feed' } });
  const status = el('p', { className: 'status', attrs: { 'aria-live': 'polite' } });
  const sentinel = el('div', { attrs: { 'aria-hidden': 'true' } });
  const hint = el('p', {
    className: 'notice',
    text: 'Like a few listings, wait a moment for the worker to update your profile, then Start over: the feed follows what you like.',
  });
  app.replaceChildren(hint, list, status, sentinel);

  const seen = new Set<string>();
  let cursor: string | null = null;
  let more = true;
  let loading = false;
  let pages = 0;
  let stopped = false;
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) void loadPage();
  });
  stopFeed = () => {
    stopped = true;
    observer.disconnect();
  };

  // A failed page stops the scrolling (no request loop against an error or a rate limit) until the
  // person asks again.
  const offerRetry = (error: unknown) => {
    const retry = button('Retry', () => {
      more = true;
      status.replaceChildren();
      void loadPage();
    });
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof RequestError ? ` (${error.code})` : '';
    status.replaceChildren(
      el('span', { className: 'notice error', text: `${message}${code} `, attrs: { role: 'alert' } }),
      retry,
    );
  };

  const loadPage = async (): Promise<void> => {
    if (stopped || loading || !more) return;
    loading = true;
    status.textContent = pages === 0 ? 'Loading your feed…' : 'Loading more…';
    try {
      const data = await run<FeedPage>('FeedPage', { first: PAGE_SIZE, after: cursor });
      // Replaced (Start over, Sign out) while this page loaded: it belongs to no feed on screen.
      if (stopped) return;
      const { edges, fallback, pageInfo } = data.suggestions;
      pages += 1;
      for (const { node } of edges) {
        // The feed never repeats a listing within a session; a repeat would be a bug worth seeing.
        const repeat = seen.has(node.listing.id);
        seen.add(node.listing.id);
        list.append(renderCard(node, fallback !== null && node.source === fallback.source, repeat));
      }
      cursor = pageInfo.endCursor;
      more = pageInfo.hasNextPage && edges.length > 0;
      list.dataset.pages = String(pages);
      status.textContent = more
        ? `${seen.size} listings on ${pages} page${pages === 1 ? '' : 's'}`
        : `${seen.size} listings: that is everything for now`;
    } catch (error) {
      more = false;
      if (stopped) return;
      if (error instanceof RequestError && error.code === 'UNAUTHENTICATED') {
        signOut(error);
        return;
      }
      offerRetry(error);
    } finally {
      loading = false;
    }
    // A short page may leave the sentinel in view: keep filling until the screen is full.
    if (
      !stopped &&
      more &&
      sentinel.isConnected &&
      sentinel.getBoundingClientRect().top < window.innerHeight
    ) {
      void loadPage();
    }
  };

  observer.observe(sentinel);
  void loadPage();
}

function renderCard(node: Suggestion, fromFallback: boolean, repeat: boolean): HTMLLIElement {
  const { listing } = node;
  const likeText = (count: number) => `${count} like${count === 1 ? '' : 's'}`;
  const likes = el('span', { text: likeText(listing.likeCount) });
  const tags = el('div', { className: 'tags' }, [
    el('span', { className: `tag ${node.source.toLowerCase()}`, text: node.source }),
    fromFallback ? el('span', { className: 'tag fallback', text: 'fallback' }) : null,
    repeat ? el('span', { className: 'tag', text: 'repeat' }) : null,
  ]);
  const card = el(
    'li',
    {
      className: 'card',
      attrs: { 'data-listing-id': listing.id, 'data-source': node.source },
    },
    [
      el('h2', { text: listing.title }),
      el('div', { className: 'meta' }, [
        el('span', { text: `${listing.price} ${listing.currency}` }),
        el('span', { text: listing.category ? ` · ${listing.category.name}` : '' }),
        el('span', { text: listing.seller ? ` · @${listing.seller.handle} · ` : ' · ' }),
        likes,
      ]),
      tags,
    ],
  );
  // One key per action until it succeeds: a click retried after a lost response is the same write, so
  // the gateway answers it from the stored reply instead of doing it twice.
  const keys = new Map<OperationName, string>();
  const keyFor = (operation: OperationName): string => {
    let key = keys.get(operation);
    if (!key) {
      key = crypto.randomUUID();
      keys.set(operation, key);
    }
    return key;
  };
  let liked = false;
  const like = button('♡ Like', (target) => {
    target.disabled = true;
    const operation = liked ? 'UnlikeListing' : 'LikeListing';
    run<Record<string, { liked: boolean; likeCount: number }>>(
      operation,
      { listingId: listing.id },
      { idempotencyKey: keyFor(operation) },
    )
      .then((data) => {
        keys.delete(operation);
        const result = data.likeListing ?? data.unlikeListing;
        if (!result) return;
        liked = result.liked;
        likes.textContent = likeText(result.likeCount);
        target.textContent = liked ? '♥ Liked' : '♡ Like';
        target.classList.toggle('liked', liked);
        card.dataset.liked = String(liked);
      })
      .catch((error: unknown) => showError(error, card))
      .finally(() => (target.disabled = false));
  });
  const hide = button('Hide', (target) => {
    target.disabled = true;
    run('HideListing', { listingId: listing.id }, { idempotencyKey: keyFor('HideListing') })
      .then(() => {
        keys.delete('HideListing');
        card.classList.add('hidden-item');
        card.dataset.hidden = 'true';
        actions.replaceChildren(el('span', { className: 'meta', text: 'Hidden: it will not come back.' }));
      })
      .catch((error: unknown) => {
        target.disabled = false;
        showError(error, card);
      });
  });
  const notInterested = button('Not interested', (target) => {
    if (!node.impressionId) return;
    target.disabled = true;
    // Feedback on this served item (reward 0): what the ranker learns from.
    run(
      'RecordFeedback',
      { impressionId: node.impressionId, reward: 0 },
      { idempotencyKey: keyFor('RecordFeedback') },
    )
      .then(() => {
        keys.delete('RecordFeedback');
        card.classList.add('dismissed');
        card.dataset.dismissed = 'true';
        target.textContent = 'Noted';
      })
      .catch((error: unknown) => {
        target.disabled = false;
        showError(error, card);
      });
  });
  if (!node.impressionId) notInterested.disabled = true;
  const actions = el('div', { className: 'actions' }, [like, hide, notInterested]);
  card.append(actions);
  return card;
}

function start(): void {
  stopFeed();
  window.scrollTo(0, 0);
  if (!token) {
    renderSignIn();
    return;
  }
  app.replaceChildren(el('p', { className: 'status', text: 'Signing in…' }));
  run<{ me: { handle: string } | null }>('Me', {})
    .then((data) => {
      if (!data.me) throw new RequestError('the token names no account', 'UNAUTHENTICATED');
      renderFeed(data.me.handle);
    })
    .catch((error: unknown) => {
      // Only a refused token ends the sign-in; anything else (the gateway restarting, a rate limit)
      // keeps it and offers to try again.
      if (error instanceof RequestError && error.code === 'UNAUTHENTICATED') {
        signOut(error);
        return;
      }
      app.replaceChildren(el('p', { className: 'status' }, [button('Try again', () => start())]));
      showError(error);
    });
}

start();
