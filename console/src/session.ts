/**
 * The API token lives in sessionStorage: it survives reloads of this tab and is gone when the
 * tab closes. A link may carry it in the URL fragment (`#token=...`), which browsers never send
 * to a server; it is moved into the session and removed from the address bar at once.
 */
const KEY = 'sora-pipeline.token';

export function tokenFromFragment(): string | undefined {
  const match = /^#token=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return undefined;
  const token = decodeURIComponent(match[1]);
  saveToken(token);
  window.history.replaceState(null, '', `${window.location.pathname}#/`);
  return token;
}

export function savedToken(): string | undefined {
  return window.sessionStorage.getItem(KEY) ?? undefined;
}

export function saveToken(token: string): void {
  window.sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  window.sessionStorage.removeItem(KEY);
}
