import { printable } from './terminal-text.ts';

/**
 * A one-line progress bar on a terminal (redrawn in place), or one line per change when the
 * output is a file or a pipe (CI logs stay readable).
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #width: number;
  #last = '';

  constructor(stream: NodeJS.WriteStream = process.stdout, width = 30) {
    this.#stream = stream;
    this.#width = width;
  }

  update(percent: number, label: string): void {
    // The label is the API's (a job's status): escaped, as it is drawn with raw control codes.
    const shown = printable(label);
    const clamped = Math.max(0, Math.min(100, Math.round(percent)));
    const filled = Math.round((clamped / 100) * this.#width);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(this.#width - filled)}] ${String(clamped).padStart(3)}% ${shown}`;
    if (line === this.#last) return;
    this.#last = line;
    if (this.#stream.isTTY) this.#stream.write(`\r${line}\u001b[K`);
    else this.#stream.write(`${line}\n`);
  }

  /** Ends the bar's line so the next output starts on its own. */
  done(): void {
    if (this.#stream.isTTY && this.#last) this.#stream.write('\n');
    this.#last = '';
  }
}
