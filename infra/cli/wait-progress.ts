import { ProgressBar } from '../local/progress-bar.ts';
import { type JobStandingFields, progressLabel } from '../local/standing-text.ts';

/** How often a pipe or a file gets a line while only the percentage moves. */
export const LINE_INTERVAL_MS = 10_000;

/**
 * What a wait for a job shows: on a terminal, one bar redrawn in place; in a pipe or a file (CI
 * logs), a line at each change of status and at most one every LINE_INTERVAL_MS in between, so a
 * long render does not fill the log with a line per percent (or per new ETA). The label says
 * where the job stands: its place in line and ETA while it waits, its ETA while it runs.
 */
export class WaitProgress {
  readonly #stream: NodeJS.WriteStream;
  readonly #bar: ProgressBar;
  readonly #now: () => number;
  #status: string | undefined;
  #lastLineAt = Number.NEGATIVE_INFINITY;

  constructor(stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now) {
    this.#stream = stream;
    this.#bar = new ProgressBar(stream);
    this.#now = now;
  }

  update(video: JobStandingFields & { progress: number }): void {
    if (!this.#stream.isTTY) {
      const due = this.#now() - this.#lastLineAt >= LINE_INTERVAL_MS;
      if (video.status === this.#status && !due) return;
      this.#lastLineAt = this.#now();
    }
    this.#status = video.status;
    this.#bar.update(video.progress, progressLabel(video));
  }

  /** Ends the bar's line so what follows starts on its own. */
  done(): void {
    this.#bar.done();
  }
}
