import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import {
  type IngestDeps,
  type IngestOutcome,
  ingestObject,
} from '../shared/intake/ingest-object.ts';
import { parseS3Event } from './s3-event.ts';

export type IntakeLogger = Pick<Logger, 'info' | 'warn'> & { addContext(context: Context): void };

export interface IntakeDeps extends IngestDeps {
  logger: IntakeLogger;
}

export interface IntakeObjectSummary {
  key: string;
  outcome: IngestOutcome['kind'];
  reason?: string;
  reportKey?: string;
  accepted?: number;
  rejected?: number;
  error?: string;
}

export interface IntakeResult {
  objects: IntakeObjectSummary[];
  skippedRecords: number;
}

export type IntakeHandler = (event: unknown, context?: Context) => Promise<IntakeResult>;

/**
 * The S3 drop folder's Lambda: each created object of the event is ingested in turn (see
 * `ingestObject`). Bad files end in their report; only infrastructure errors escape, and Lambda's
 * retry of the whole event is safe because every entry is idempotent.
 */
export function createIntakeHandler(deps: IntakeDeps): IntakeHandler {
  return async (event, context) => {
    if (context) deps.logger.addContext(context);
    const { objects, skipped } = parseS3Event(event);
    if (skipped > 0) deps.logger.warn('Skipped S3 event records', { skipped });
    const summaries: IntakeObjectSummary[] = [];
    for (const object of objects) {
      const outcome = await ingestObject(object, deps);
      const summary = summarize(object.key, outcome);
      deps.logger.info('Dropped file processed', { ...summary });
      summaries.push(summary);
    }
    return { objects: summaries, skippedRecords: skipped };
  };
}

function summarize(key: string, outcome: IngestOutcome): IntakeObjectSummary {
  if (outcome.kind === 'ignored') return { key, outcome: outcome.kind, reason: outcome.reason };
  const { report } = outcome;
  const summary: IntakeObjectSummary = {
    key,
    outcome: outcome.kind,
    reportKey: outcome.reportKey,
    accepted: report.totals.accepted,
    rejected: report.totals.rejected,
  };
  if (report.error) summary.error = report.error.message;
  return summary;
}
