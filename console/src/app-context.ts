import type { ApiClient } from './api-client.ts';
import type { ConsoleConfig } from './console-config.ts';

export interface AppContext {
  api: ApiClient;
  config: ConsoleConfig;
  /** Where the page renders. */
  main: HTMLElement;
  /** Registers work to undo when the page is left (timers, listeners). */
  onLeave(cleanup: () => void): void;
  /** Whether the page is still the one shown (async work checks before rendering). */
  isCurrent(): boolean;
  /** Shows another page (`#/videos/<id>`); renders the current one again when it is the same. */
  navigate(hash: string): void;
}

/** Sets the page title and the main heading; the heading gets focus after a navigation. */
export function pageTitle(title: string): void {
  document.title = `${title} · sora-pipeline console`;
}
