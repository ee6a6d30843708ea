import { IdempotencyConflictError, ValidationError } from '../jobs/job-errors.ts';
import { type SubmitJobDeps, submitJob } from '../jobs/submit-job.ts';
import {
  type DropEntry,
  MAX_DROP_FILE_BYTES,
  parseDropFile,
  tooLargeMessage,
} from './drop-file.ts';
import { type DropFolder, dropFolderOf, reportKey } from './drop-folder.ts';
import { intakeBatchId, intakeIdempotencyKey, normalizeETag } from './intake-idempotency.ts';
import {
  buildReport,
  type IntakeReport,
  type ReportLine,
  type ReportSource,
} from './intake-report.ts';

/** An object-created event's object: what was written, as the event names it. */
export interface DroppedObject {
  bucket: string;
  /** The object key, already URL-decoded. */
  key: string;
  versionId?: string;
  eTag?: string;
  size?: number;
}

export type ReadResult =
  | { kind: 'read'; bytes: Uint8Array; versionId?: string; eTag?: string }
  | { kind: 'too-large'; bytes: number }
  /** Deleted before it was read: nothing to do. */
  | { kind: 'gone' }
  /** Overwritten since the event: the newer version has an event of its own. */
  | { kind: 'superseded' };

/** The bucket as the intake sees it (S3 in production, a fake in unit tests). */
export interface DropObjectStore {
  /** Reads the event's version of the object, refusing to read more than `maxBytes`. */
  read(object: DroppedObject, maxBytes: number): Promise<ReadResult>;
  putReport(bucket: string, key: string, report: IntakeReport): Promise<void>;
}

export interface IngestDeps {
  objects: DropObjectStore;
  submit: SubmitJobDeps;
  /** Entries submitted at a time: a batch of hundreds should not take hundreds of round trips in a row. */
  concurrency?: number;
}

export type IngestOutcome =
  | { kind: 'reported'; reportKey: string; report: IntakeReport }
  | { kind: 'ignored'; reason: 'not-a-drop-folder' | 'folder-marker' | 'gone' | 'superseded' };

/**
 * Reads one dropped file, submits each valid entry as a job (idempotently, keyed by object
 * version and line) and writes the file's report. Bad content never throws: it ends in the
 * report. Infrastructure failures (S3, DynamoDB, Step Functions) do throw, so the event is
 * retried; the retry finds the jobs already created and only finishes the work.
 */
export async function ingestObject(
  object: DroppedObject,
  deps: IngestDeps,
): Promise<IngestOutcome> {
  const location = dropFolderOf(object.key);
  if (location === undefined) return { kind: 'ignored', reason: 'not-a-drop-folder' };
  // The S3 console's "create folder" writes an empty `inbox/sub/` object.
  if (object.key.endsWith('/')) return { kind: 'ignored', reason: 'folder-marker' };
  const { folder, name } = location;
  const target = reportKey(folder, name);
  const now = () => deps.submit.clock().toISOString();
  const source: ReportSource = { bucket: object.bucket, key: object.key };

  const write = async (report: IntakeReport): Promise<IngestOutcome> => {
    await deps.objects.putReport(object.bucket, target, report);
    return { kind: 'reported', reportKey: target, report };
  };

  if (object.size !== undefined && object.size > MAX_DROP_FILE_BYTES) {
    withVersion(source, object.versionId, object.eTag);
    const error = { field: 'file' as const, message: tooLargeMessage(object.size) };
    return write(buildReport({ source, processedAt: now(), error }));
  }
  const read = await deps.objects.read(object, MAX_DROP_FILE_BYTES);
  if (read.kind === 'gone' || read.kind === 'superseded')
    return { kind: 'ignored', reason: read.kind };
  if (read.kind === 'too-large') {
    withVersion(source, object.versionId, object.eTag);
    const error = { field: 'file' as const, message: tooLargeMessage(read.bytes) };
    return write(buildReport({ source, processedAt: now(), error }));
  }

  withVersion(source, object.versionId ?? read.versionId, object.eTag ?? read.eTag);
  const parsed = parseDropFile(name, read.bytes);
  if ('problem' in parsed) {
    return write(
      buildReport({ source, processedAt: now(), format: parsed.format, error: parsed.problem }),
    );
  }
  const version = source.versionId ?? source.eTag ?? '';
  const results = await mapPool(parsed.entries, deps.concurrency ?? 8, (entry) =>
    submitEntry(entry, folder, { bucket: object.bucket, key: object.key, version }, deps.submit),
  );
  return write(buildReport({ source, processedAt: now(), format: parsed.format, results }));
}

async function submitEntry(
  entry: DropEntry,
  folder: DropFolder,
  origin: { bucket: string; key: string; version: string },
  deps: SubmitJobDeps,
): Promise<ReportLine> {
  const { line } = entry;
  if ('error' in entry) return { line, error: entry.error };
  const request = folder.alwaysDeferred
    ? deferRequest(entry.request, folder)
    : { value: entry.request };
  if ('error' in request) return { line, error: request.error };
  try {
    const { job } = await submitJob(
      request.value,
      {
        source: folder.source,
        idempotencyKey: intakeIdempotencyKey({ ...origin, line }),
        batchId: intakeBatchId(origin),
      },
      deps,
    );
    return { line, jobId: job.jobId, status: job.status, deferred: job.deferred };
  } catch (error) {
    if (error instanceof ValidationError) {
      return { line, error: { field: error.field, message: error.message } };
    }
    // Only possible if the same version and line once held another request: report, not retry.
    if (error instanceof IdempotencyConflictError) {
      return { line, error: { field: 'line', message: error.message } };
    }
    throw error;
  }
}

/** Makes a batch entry deferred; an entry that insists on `"defer": false` is refused. */
function deferRequest(
  request: unknown,
  folder: DropFolder,
): { value: unknown } | { error: { field: string; message: string } } {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return { value: request };
  }
  if ('defer' in request && request.defer === false) {
    return {
      error: {
        field: 'defer',
        message: `defer: files under ${folder.prefix} always wait for the schedule; drop the file under inbox/ to start it now`,
      },
    };
  }
  return { value: { ...request, defer: true } };
}

function withVersion(source: ReportSource, versionId?: string, eTag?: string): void {
  if (versionId !== undefined && versionId !== 'null') source.versionId = versionId;
  const bare = normalizeETag(eTag);
  if (bare !== undefined) source.eTag = bare;
}

/**
 * Maps with at most `limit` calls in flight, results in input order. After a failure no new call
 * starts, and the first failure is rethrown once the calls in flight have settled.
 */
async function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next;
      next += 1;
      const item = items[index] as T;
      try {
        results[index] = await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
