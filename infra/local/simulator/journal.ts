/**
 * The simulator's jobs kept across restarts (the local stack's `.local/simulator.jsonl`): every
 * change is one JSON line appended before the request is answered, and a new simulator on the
 * same file replays them. A job's whole timeline is fixed when it is created, on the clock the
 * simulator is given (the local stack's, which continues from its saved position), so a job
 * replayed after a restart goes on rendering where it was, and one that finished meanwhile is
 * done. Without it, a restart of the local stack loses every job the pipeline is waiting for
 * (its next poll answers video_not_found).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { VideoRecord } from './video-store.ts';

export type JournalEntry =
  /** A /v1/videos job (create or remix). */
  | { kind: 'video'; record: VideoRecord }
  /** A /v1/videos job deleted. */
  | { kind: 'deleted'; id: string; atMs: number }
  /** A Bedrock async invocation, with what its answers and its output write need. */
  | { kind: 'invocation'; record: VideoRecord; token: string; s3Uri: string };

export class SimulatorJournal {
  readonly file: string;
  #created = false;

  constructor(file: string) {
    this.file = file;
  }

  /**
   * The entries written so far, oldest first (none when the file does not exist yet). A line
   * that does not parse (a write cut short by a crash) is skipped.
   */
  async entries(): Promise<JournalEntry[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const entries: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const entry = JSON.parse(line) as JournalEntry;
        if (isEntry(entry)) entries.push(entry);
      } catch {
        // cut short: the change it was recording was never answered
      }
    }
    return entries;
  }

  /**
   * Appends one change. Synchronous, so the line is in the file before the answer that reports
   * the change leaves: a stack killed right after answering a create still knows the job.
   */
  append(entry: JournalEntry): void {
    if (!this.#created) {
      mkdirSync(dirname(this.file), { recursive: true });
      this.#created = true;
    }
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  }
}

function isEntry(value: unknown): value is JournalEntry {
  const entry = value as { kind?: unknown; record?: { id?: unknown }; id?: unknown } | null;
  if (entry === null || typeof entry !== 'object') return false;
  if (entry.kind === 'deleted') return typeof entry.id === 'string';
  return (
    (entry.kind === 'video' || entry.kind === 'invocation') && typeof entry.record?.id === 'string'
  );
}
