import type { JobStatus } from '../jobs/job.ts';
import type { DropFileFormat, EntryError, FileProblem } from './drop-file.ts';

/** The dropped object a report is about (the exact version that was read). */
export interface ReportSource {
  bucket: string;
  key: string;
  versionId?: string;
  eTag?: string;
}

export type ReportLine =
  | { line: number; jobId: string; status: JobStatus; deferred: boolean }
  | { line: number; error: EntryError };

/**
 * What `inbox-results/<name>.json` (or `batches-results/...`) says about a dropped file: one line
 * per entry with its job id or the reason it was refused, and totals. `error` is set instead of
 * `results` when the file as a whole could not be read (too large, not UTF-8, unknown extension).
 * A redelivered event rewrites the same report with the same job ids.
 */
export interface IntakeReport {
  source: ReportSource;
  processedAt: string;
  format?: DropFileFormat;
  totals: { entries: number; accepted: number; rejected: number };
  results: ReportLine[];
  error?: FileProblem;
}

export function buildReport(input: {
  source: ReportSource;
  processedAt: string;
  format?: DropFileFormat | undefined;
  results?: ReportLine[];
  error?: FileProblem;
}): IntakeReport {
  const results = [...(input.results ?? [])].sort((a, b) => a.line - b.line);
  const accepted = results.filter((line) => 'jobId' in line).length;
  // Key order is the reading order of the JSON file.
  return {
    source: input.source,
    processedAt: input.processedAt,
    ...(input.format === undefined ? {} : { format: input.format }),
    ...(input.error === undefined ? {} : { error: input.error }),
    totals: { entries: results.length, accepted, rejected: results.length - accepted },
    results,
  };
}
