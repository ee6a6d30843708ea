/**
 * The S3 drop folder's layout, in one place: which prefixes start jobs, how each one treats its
 * entries, and where a file's report goes. The CDK notification filters, the IAM grants and the
 * local stack's event wiring are all built from these names.
 */
import type { JobSource } from '../jobs/job.ts';

export interface DropFolder {
  /** Prefix whose object-created events start jobs. */
  prefix: string;
  /** Where the report of `<prefix><name>` is written: `<resultsPrefix><name>.json`. */
  resultsPrefix: string;
  source: JobSource;
  /** Entries wait as deferred QUEUED jobs for the scheduler, whatever they say. */
  alwaysDeferred: boolean;
}

/** `inbox/`: each entry starts at once (unless it says `"defer": true`). */
export const INBOX: DropFolder = {
  prefix: 'inbox/',
  resultsPrefix: 'inbox-results/',
  source: 'inbox',
  alwaysDeferred: false,
};

/** `batches/`: every entry waits for the schedule, which starts them within the limits. */
export const BATCHES: DropFolder = {
  prefix: 'batches/',
  resultsPrefix: 'batches-results/',
  source: 'batch',
  alwaysDeferred: true,
};

export const DROP_FOLDERS: readonly DropFolder[] = [INBOX, BATCHES];

/** The drop folder a key belongs to and its name inside it; undefined for any other key. */
export function dropFolderOf(key: string): { folder: DropFolder; name: string } | undefined {
  for (const folder of DROP_FOLDERS) {
    if (key.startsWith(folder.prefix) && key.length > folder.prefix.length) {
      return { folder, name: key.slice(folder.prefix.length) };
    }
  }
  return undefined;
}

/** Where the report of a dropped file goes: the results prefix, the same name, plus `.json`. */
export function reportKey(folder: DropFolder, name: string): string {
  return `${folder.resultsPrefix}${name}.json`;
}
