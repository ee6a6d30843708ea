import { ProgressBar } from '../local/progress-bar.ts';

/** How often a pipe or a file gets a line while only the percentage moves. */
export const LINE_INTERVAL_MS = 10_000;

/**
 * What a wait for a job shows: on a terminal, one bar redrawn in place; in a pipe or a file (CI
 * logs), a line at each change of status and at most one every LINE_INTERVAL_MS in between, so a
 * long render does not fill the log with a line per percent.
 */
export class WaitProgress {
  readonly #stream: NodeJS.WriteStream;
  readonly #bar: ProgressBar;
  readonly #now: () => number;
  #label: string | undefined;
  #lastLineAt = Number.NEGATIVE_INFINITY;

  constructor(stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now) {
    this.#stream = stream;
    this.#bar = new ProgressBar(stream);
    this.#now = now;
  }

  update(video: { status: string; progress: number }): void {
    const label = video.status.toLowerCase().replace('_', ' ');
    if (!this.#stream.isTTY) {
      const due = this.#now() - this.#lastLineAt >= LINE_INTERVAL_MS;
      if (label === this.#label && !due) return;
      this.#lastLineAt = this.#now();
    }
    this.#label = label;
    this.#bar.update(video.progress, label);
  }

  /** Ends the bar's line so what follows starts on its own. */
  done(): void {
    this.#bar.done();
  }
}
