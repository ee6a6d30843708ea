/**
 * The pipeline's CloudWatch metrics (EMF through Powertools, namespace SoraPipeline), recorded
 * during an invocation and published when it ends (see `withObservability`).
 *
 * Handlers call `recordMetric` wherever the fact is known; the invocation's scope (one per
 * invocation, kept in AsyncLocalStorage so concurrent in-process invocations stay apart) collects
 * them. Dimensions are low-cardinality by rule: a source, an error name, an error code, a reason;
 * never a job id, a prompt or a message.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** Every metric the pipeline publishes, with its unit (and, in the comment, its dimensions). */
export const PIPELINE_METRICS = {
  /** A new job was recorded (not an idempotent replay). Dimension `source`: api, inbox, batch. */
  JobsSubmitted: MetricUnit.Count,
  /** A paid provider job was started by the create step. */
  ProviderJobsCreated: MetricUnit.Count,
  /** A provider job was created that no job can hold: recorded as an orphan with its cost. */
  OrphanedProviderJobs: MetricUnit.Count,
  /** A provider call failed. Dimension `error`: the error class name (ProviderRejectedError, ...). */
  ProviderErrors: MetricUnit.Count,
  /**
   * A new execution took over a job whose execution ended early with its provider work alive.
   * Dimension `code`: the failure that ended the old execution.
   */
  JobsResumed: MetricUnit.Count,
  /** A provider call waits for the next minute's request allowance. */
  RateLimitWaits: MetricUnit.Count,
  /**
   * A job waits without an execution. Dimension `reason`: capacity (parked for a slot), budget,
   * rate_limit (the request allowance stayed spent), never_started (the scheduler's sweep found
   * it QUEUED without an execution).
   */
  JobsDeferred: MetricUnit.Count,
  /** Jobs cancelled because no slot came within their start timeout. */
  JobsTimedOut: MetricUnit.Count,
  /** Deferred jobs a scheduler run started. */
  DeferredJobsStarted: MetricUnit.Count,
  /** Concurrency slots a scheduler run took back from jobs without a live execution. */
  SlotsReclaimed: MetricUnit.Count,
  /** A job was recorded COMPLETED. Dimension `source`: api, inbox, batch (and a total). */
  JobsCompleted: MetricUnit.Count,
  /** Bytes of MP4 stored by a completed download. */
  VideoBytesStored: MetricUnit.Bytes,
  /** From submission to COMPLETED (queueing and deferral included). */
  JobDuration: MetricUnit.Seconds,
  /** From the provider create to COMPLETED. */
  GenerationDuration: MetricUnit.Seconds,
  /** A job was recorded FAILED. Dimension `code`: the failure code, never its message (and a total). */
  JobsFailed: MetricUnit.Count,
  /** The API authorizer denied a request (no, malformed or unknown token). */
  RequestsUnauthorized: MetricUnit.Count,
  /** Gauge (each scheduler run): jobs waiting for a slot or the schedule, without an execution. */
  JobsWaiting: MetricUnit.Count,
  /** Gauge (each scheduler run): how long the oldest waiting job has waited since submission. */
  OldestWaitingJobAge: MetricUnit.Seconds,
  /** Gauge (each scheduler run): concurrency slots held, i.e. provider jobs in flight. */
  JobsInFlight: MetricUnit.Count,
  /** Gauge (each scheduler run): today's (UTC) spending, spent plus reserved, in USD. */
  SpentTodayUsd: MetricUnit.NoUnit,
  /**
   * A job state-change or deployment health event could not be published to the event bus (the
   * job went on).
   */
  JobEventsNotPublished: MetricUnit.Count,
  /** A client cancelled a job. */
  JobsCancelled: MetricUnit.Count,
  /** A webhook delivery could not be queued (the event is lost; see the error log). */
  WebhookEnqueueFailures: MetricUnit.Count,
  /** A webhook attempt. Dimension `outcome`: delivered, retrying, failed. */
  WebhookAttempts: MetricUnit.Count,
  /**
   * A provider deployment was taken out after repeated definite refusals (deployment-health.ts).
   * Dimension `deployment` (and a total).
   */
  DeploymentOpened: MetricUnit.Count,
  /** An open deployment's probe succeeded: it is back in use. Dimension `deployment`. */
  DeploymentClosed: MetricUnit.Count,
  /**
   * Gauge (each scheduler run): 1 for a deployment open or half-open, 0 for a closed one.
   * Dimension `deployment` (and a total: how many are out of use).
   */
  DeploymentsOpen: MetricUnit.Count,
} as const;

/**
 * Metrics also published as a total over their dimensions (the `service` dimension only), for
 * alarms: CloudWatch alarms cannot sum a metric across dimension values.
 */
const ROLLED_UP: ReadonlySet<PipelineMetricName> = new Set([
  'JobsCompleted',
  'JobsFailed',
  'DeploymentOpened',
  'DeploymentsOpen',
]);

export type PipelineMetricName = keyof typeof PIPELINE_METRICS;
export type MetricDimensions = Readonly<Record<string, string>>;

export interface RecordedMetric {
  name: PipelineMetricName;
  value: number;
  dimensions: MetricDimensions;
}

/** What publishing needs of a Powertools Metrics instance. */
export type MetricsSink = Pick<Metrics, 'addDimension' | 'addMetric' | 'publishStoredMetrics'>;

const invocation = new AsyncLocalStorage<RecordedMetric[]>();

/** Runs `work` with a fresh metrics scope; `recorded` receives what it records. */
export function inMetricsScope<T>(recorded: RecordedMetric[], work: () => Promise<T>): Promise<T> {
  return invocation.run(recorded, work);
}

/**
 * Records a metric in the current invocation's scope. Outside one (a factory-built handler in a
 * unit test, a script) it is dropped.
 */
export function recordMetric(
  name: PipelineMetricName,
  value = 1,
  dimensions: MetricDimensions = {},
): void {
  const clean: Record<string, string> = {};
  for (const [key, raw] of Object.entries(dimensions)) clean[key] = dimensionValue(raw);
  invocation.getStore()?.push({ name, value, dimensions: clean });
}

// A code or name from elsewhere (a provider's error code) must not become an unbounded or
// unprintable dimension value.
const MAX_DIMENSION_LENGTH = 64;

function dimensionValue(raw: string): string {
  const value = raw.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, MAX_DIMENSION_LENGTH);
  return value === '' ? 'unknown' : value;
}

/**
 * Publishes the recorded metrics: one EMF line per set of dimensions (metrics of one line share
 * its dimensions), counts of the same metric summed, other values kept apart.
 */
export function publishMetrics(recorded: readonly RecordedMetric[], sink: MetricsSink): void {
  const groups = new Map<
    string,
    { dimensions: [string, string][]; values: Map<PipelineMetricName, number[]> }
  >();
  const rollups = recorded
    .filter(({ name, dimensions }) => ROLLED_UP.has(name) && Object.keys(dimensions).length > 0)
    .map(({ name, value }): RecordedMetric => ({ name, value, dimensions: {} }));
  for (const { name, value, dimensions } of [...recorded, ...rollups]) {
    const entries = Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b));
    const key = JSON.stringify(entries);
    let group = groups.get(key);
    if (group === undefined) {
      group = { dimensions: entries, values: new Map() };
      groups.set(key, group);
    }
    group.values.set(name, [...(group.values.get(name) ?? []), value]);
  }
  for (const { dimensions, values } of groups.values()) {
    for (const [key, value] of dimensions) sink.addDimension(key, value);
    for (const [name, list] of values) {
      const unit = PIPELINE_METRICS[name];
      if (unit === MetricUnit.Count) {
        sink.addMetric(
          name,
          unit,
          list.reduce((sum, value) => sum + value, 0),
        );
      } else {
        for (const value of list) sink.addMetric(name, unit, value);
      }
    }
    sink.publishStoredMetrics();
  }
}
