import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AwsApiError } from './aws-api-error.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './local-ids.ts';

/** One event as EventBridge would deliver it (the envelope around the publisher's detail). */
export interface LocalBusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
  /** The bus it was put on (not part of EventBridge's envelope; for tests and the log). */
  eventBusName: string;
}

export interface LocalEventBusOptions {
  /** Append each event as one JSON line here (`.local/events.jsonl`); null keeps them in memory only. */
  file: string | null;
  /** Told about each event (the CLI prints a line). */
  onEvent?: (event: LocalBusEvent) => void;
  /** The stack's clock, for events put without a Time. */
  now?: () => number;
}

/**
 * EventBridge's PutEvents for the local stack: what the functions publish (job state changes) is
 * kept in order, appended to a JSON-lines file and shown, instead of being routed by rules.
 */
export class LocalEventBus {
  readonly #events: LocalBusEvent[] = [];
  readonly #options: LocalEventBusOptions;

  constructor(options: LocalEventBusOptions) {
    this.#options = options;
    if (options.file) mkdirSync(dirname(options.file), { recursive: true });
  }

  /** Every event put so far, oldest first. */
  events(): LocalBusEvent[] {
    return [...this.#events];
  }

  /** The PutEvents operation (JSON body as the SDK sends it). */
  putEvents(body: Record<string, unknown>): unknown {
    const entries = body.Entries;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > 10) {
      throw new AwsApiError('ValidationException', 'Entries must hold 1 to 10 entries');
    }
    const results = entries.map((entry: Record<string, unknown>) => {
      const detailText = entry.Detail;
      const source = entry.Source;
      const detailType = entry.DetailType;
      if (
        typeof detailText !== 'string' ||
        typeof source !== 'string' ||
        typeof detailType !== 'string'
      ) {
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: 'Source, DetailType and Detail are required',
        };
      }
      let detail: unknown;
      try {
        detail = JSON.parse(detailText);
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not valid JSON' };
      }
      const time =
        typeof entry.Time === 'number'
          ? new Date(entry.Time * 1000)
          : new Date(this.#options.now?.() ?? Date.now());
      const event: LocalBusEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': detailType,
        source,
        account: LOCAL_ACCOUNT,
        time: time.toISOString(),
        region: LOCAL_REGION,
        resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : [],
        detail,
        eventBusName: typeof entry.EventBusName === 'string' ? entry.EventBusName : 'default',
      };
      this.#events.push(event);
      if (this.#options.file) appendFileSync(this.#options.file, `${JSON.stringify(event)}\n`);
      this.#options.onEvent?.(event);
      return { EventId: event.id };
    });
    const failed = results.filter((result) => 'ErrorCode' in result).length;
    return { FailedEntryCount: failed, Entries: results };
  }
}

/**
 * One line for a terminal: `event  Video Job State Changed  job_... completed (api)`, or
 * `event  Deployment Health Changed  eastus open ProviderTransientError 503`.
 */
export function describeBusEvent(event: LocalBusEvent): string {
  const detail = (event.detail ?? {}) as Record<string, unknown>;
  const parts = [
    detail.jobId,
    detail.status,
    detail.deployment,
    detail.state,
    detail.reason,
  ].filter((part) => typeof part === 'string');
  const source = typeof detail.source === 'string' ? ` (${detail.source})` : '';
  const code =
    typeof detail.error === 'object' && detail.error !== null && 'code' in detail.error
      ? ` ${String(detail.error.code)}`
      : '';
  return `event  ${event['detail-type']}  ${parts.join(' ')}${code}${source}`;
}
