import { ApiClient, ApiError } from './api-client.ts';
import type { AppContext } from './app-context.ts';
import { type ConsoleConfig, loadConfig } from './console-config.ts';
import { announce, h, replaceChildren } from './dom.ts';
import { renderJobDetail } from './pages/job-detail.ts';
import { renderJobList } from './pages/job-list.ts';
import { renderSignIn } from './pages/sign-in.ts';
import { renderSubmit } from './pages/submit.ts';
import { renderUsage } from './pages/usage.ts';
import { forgetToken, savedToken, tokenFromFragment } from './session.ts';

type Page = (
  context: AppContext,
  parameter: string | undefined,
  query: URLSearchParams,
) => Promise<void>;

const ROUTES: { pattern: RegExp; nav: string; page: Page }[] = [
  { pattern: /^\/?$/, nav: 'jobs', page: renderJobList },
  { pattern: /^\/videos\/([^/]+)$/, nav: 'jobs', page: renderJobDetail },
  { pattern: /^\/submit$/, nav: 'submit', page: renderSubmit },
  { pattern: /^\/usage$/, nav: 'usage', page: renderUsage },
];

let config: ConsoleConfig;
const leaving: (() => void)[] = [];
let generation = 0;

async function start(): Promise<void> {
  const main = requiredElement('main');
  try {
    config = await loadConfig();
  } catch (error) {
    replaceChildren(main, h('h1', {}, 'The console could not start'), h('p', {}, String(error)));
    return;
  }
  requiredElement('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  requiredElement('sign-out').addEventListener('click', () => {
    forgetToken();
    window.location.hash = '#/';
    void route();
  });
  window.addEventListener('hashchange', () => void route({ focus: true }));
  // A link to the page already shown changes no hash: show that page again, fresh.
  document.addEventListener('click', (event) => {
    const link = (event.target as Element | null)?.closest?.('a[href^="#/"]');
    if (link && link.getAttribute('href') === window.location.hash) {
      event.preventDefault();
      void route({ focus: true });
    }
  });
  await route();
}

async function route(options: { focus?: boolean } = {}): Promise<void> {
  for (const cleanup of leaving.splice(0)) cleanup();
  generation += 1;
  const current = generation;
  const main = requiredElement('main');
  const signOut = requiredElement('sign-out');
  // A sign-in link opened in a tab already showing the console changes only the fragment.
  tokenFromFragment();
  const token = savedToken();
  const [path = '', queryString = ''] = window.location.hash.replace(/^#/, '').split('?');
  const context = (api: ApiClient): AppContext => ({
    api,
    config,
    main,
    onLeave: (cleanup) => leaving.push(cleanup),
    isCurrent: () => current === generation,
    navigate,
  });

  // The list item: a hidden button still shows (buttons are inline-block, which beats `hidden`),
  // and an empty item would still take its gap in the nav.
  const signOutItem = signOut.closest('li') ?? signOut;
  if (!token) {
    signOut.hidden = true;
    signOutItem.hidden = true;
    markNav(undefined);
    await renderSignIn(context(new ApiClient(config.apiUrl, '')));
    return;
  }
  signOut.hidden = false;
  signOutItem.hidden = false;
  const api = new ApiClient(config.apiUrl, token);
  const match = ROUTES.map((candidate) => ({
    candidate,
    found: candidate.pattern.exec(path),
  })).find(({ found }) => found !== null);
  if (!match) {
    markNav(undefined);
    replaceChildren(
      main,
      h('h1', {}, 'Page not found'),
      h('p', {}, h('a', { href: '#/' }, 'Back to the jobs')),
    );
    return;
  }
  markNav(match.candidate.nav);
  try {
    await match.candidate.page(
      context(api),
      match.found?.[1] ? decodeURIComponent(match.found[1]) : undefined,
      new URLSearchParams(queryString),
    );
  } catch (error) {
    if (current !== generation) return;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      // The token was refused: back to the sign-in form, saying why.
      forgetToken();
      await route();
      announce('The API refused the saved token: sign in again.');
      return;
    }
    replaceChildren(
      main,
      h('h1', {}, 'Something went wrong'),
      h('p', { role: 'alert' }, error instanceof Error ? error.message : String(error)),
    );
  }
  if (options.focus && current === generation) {
    (main.querySelector('h1') ?? main).setAttribute('tabindex', '-1');
    (main.querySelector<HTMLElement>('h1') ?? main).focus();
  }
}

function navigate(hash: string): void {
  if (window.location.hash === hash) void route({ focus: true });
  else window.location.hash = hash;
}

function markNav(active: string | undefined): void {
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (link.dataset.nav === active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function requiredElement(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element;
}

void start();
