import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  Stats,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { errorCountedBy } from '../../functions/shared/errors/error-policy.ts';
import { METRICS_NAMESPACE } from '../../functions/shared/observability/observability.ts';
import type { PipelineMetricName } from '../../functions/shared/observability/pipeline-metrics.ts';

/** Where each alarm's runbook entry lives (docs/guide.md, "Operating it"). */
export const RUNBOOK = 'docs/guide.md#9-operating-it';

/** Thresholds of the alarms; the defaults are documented in the guide's runbook. */
export interface AlarmThresholds {
  /** Failed jobs as a share of finished jobs (0..1) over 15 minutes. */
  jobFailureRate: number;
  /** Failed executions (failed jobs included) in 15 minutes. */
  executionsFailed: number;
  /** Lambda errors of one function in 5 minutes (a task's provider error is retried, so a few are normal). */
  lambdaErrors: number;
  /** The oldest waiting job has waited this long. */
  maxWaitMinutes: number;
  /** Share (0..1) of the daily budget spent or reserved today. */
  budgetShare: number;
  /** Provider answers 429 in 5 minutes. */
  providerRateLimited: number;
  /** Provider 5xx answers and timeouts in 5 minutes. */
  providerTransient: number;
  /** API answers that are 5xx, as a share (0..1) of requests over 5 minutes. */
  api5xxRate: number;
}

export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  jobFailureRate: 0.2,
  executionsFailed: 10,
  lambdaErrors: 5,
  maxWaitMinutes: 60,
  budgetShare: 0.8,
  providerRateLimited: 10,
  providerTransient: 5,
  api5xxRate: 0.05,
};

export interface PipelineMonitoringProps {
  /** The functions by name (api, intake, ...): each gets an errors and a throttles alarm. */
  functions: Record<string, IFunction>;
  /**
   * Errors alarm thresholds by function name where `thresholds.lambdaErrors` does not fit: a
   * function invoked rarely (the scheduler, every few minutes) or whose every error matters.
   */
  functionErrorThresholds?: Record<string, number>;
  stateMachine: IStateMachine;
  httpApi: IHttpApi;
  /** Dead-letter queues by name: any message in one raises an alarm. */
  deadLetterQueues: Record<string, IQueue>;
  /** Powertools service name: the `service` dimension of every pipeline metric. */
  serviceName: string;
  /** The daily budget, when there is one: the spend alarm and the dashboard's line. */
  dailyBudgetUsd?: number;
  /** Subscribe this address to the alarm topic (optional). */
  alarmEmail?: string;
  thresholds?: Partial<AlarmThresholds>;
}

/**
 * Operating the pipeline as a service: one SNS topic every alarm notifies (optionally an email
 * subscription), the alarms (each with a name, a description and a runbook line in the guide)
 * and a CloudWatch dashboard of the pipeline's own metrics next to Lambda's, Step Functions' and
 * API Gateway's.
 */
export class PipelineMonitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;
  readonly #serviceName: string;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    this.#serviceName = props.serviceName;
    const thresholds = { ...DEFAULT_ALARM_THRESHOLDS, ...props.thresholds };
    const stackName = Stack.of(this).stackName;

    // CloudWatch can publish to an encrypted topic only with a customer managed key it may use.
    const key = new Key(this, 'TopicKey', {
      description: 'Encrypts the sora-pipeline alarm topic',
      enableKeyRotation: true,
      // Stateless: the topic holds nothing once delivered; deleting the stack schedules deletion.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.grant(
      new ServicePrincipal('cloudwatch.amazonaws.com'),
      'kms:Decrypt',
      'kms:GenerateDataKey*',
    );
    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: 'sora-pipeline alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    const alarm = (
      name: string,
      description: string,
      metric: IMetric,
      threshold: number,
      options: { evaluationPeriods?: number; comparison?: ComparisonOperator } = {},
    ): Alarm => {
      const created = new Alarm(this, name, {
        alarmName: `${stackName}-${name}`,
        alarmDescription: `${description} Runbook: ${RUNBOOK} (${name}).`,
        metric,
        threshold,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        comparisonOperator:
          options.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No traffic is not a failure; a silent scheduler shows as its function's errors.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new SnsAction(this.topic));
      this.alarms.push(created);
      return created;
    };
    const fiveMinutes = Duration.minutes(5);
    const fifteenMinutes = Duration.minutes(15);

    // --- Jobs ---------------------------------------------------------------------------------
    const failed = this.#metric('JobsFailed', Stats.SUM, fifteenMinutes);
    const completed = this.#metric('JobsCompleted', Stats.SUM, fifteenMinutes);
    alarm(
      'JobFailureRate',
      `More than ${percent(thresholds.jobFailureRate)} of the jobs that finished in 15 minutes failed (at least 5 finished).`,
      new MathExpression({
        // FILL: a window with failures and no completion (or the reverse) still has a rate.
        expression:
          'IF(FILL(failed, 0) + FILL(completed, 0) >= 5, FILL(failed, 0) / (FILL(failed, 0) + FILL(completed, 0)), 0)',
        usingMetrics: { failed, completed },
        period: fifteenMinutes,
        label: 'Job failure rate',
      }),
      thresholds.jobFailureRate,
      { comparison: ComparisonOperator.GREATER_THAN_THRESHOLD },
    );
    alarm(
      'OrphanedProviderJobs',
      'A provider job was created that no job holds: its cost is counted and the pipeline deleted it at the provider.',
      this.#metric('OrphanedProviderJobs', Stats.SUM, fiveMinutes),
      1,
    );
    alarm(
      'OldestWaitingJob',
      `A job has waited more than ${thresholds.maxWaitMinutes} minutes for a slot, the budget or the schedule.`,
      this.#metric('OldestWaitingJobAge', Stats.MAXIMUM, fifteenMinutes),
      thresholds.maxWaitMinutes * 60,
      { comparison: ComparisonOperator.GREATER_THAN_THRESHOLD },
    );
    if (props.dailyBudgetUsd !== undefined) {
      alarm(
        'DailySpend',
        `Today's spending (spent plus reserved) reached ${percent(thresholds.budgetShare)} of the daily budget of ${props.dailyBudgetUsd} USD.`,
        this.#metric('SpentTodayUsd', Stats.MAXIMUM, fifteenMinutes),
        props.dailyBudgetUsd * thresholds.budgetShare,
      );
    }
    alarm(
      'JobEventsNotPublished',
      'A job state-change or deployment health event could not be put on the event bus: subscribers missed it (the job itself went on).',
      this.#metric('JobEventsNotPublished', Stats.SUM, fiveMinutes),
      1,
    );

    // --- Provider -----------------------------------------------------------------------------
    alarm(
      'ProviderRateLimited',
      `The provider answered 429 (rate limited) ${thresholds.providerRateLimited} times or more in 5 minutes.`,
      this.#metric('ProviderErrors', Stats.SUM, fiveMinutes, {
        error: errorCountedBy('ProviderRateLimited'),
      }),
      thresholds.providerRateLimited,
    );
    alarm(
      'ProviderServerErrors',
      `The provider answered 5xx or timed out ${thresholds.providerTransient} times or more in 5 minutes.`,
      this.#metric('ProviderErrors', Stats.SUM, fiveMinutes, {
        error: errorCountedBy('ProviderServerErrors'),
      }),
      thresholds.providerTransient,
    );

    // A deployment's state as the scheduler last saw it, and an opening between two runs.
    alarm(
      'DeploymentOpen',
      "A provider deployment is open or half-open: it refused creates repeatedly and is taken out for a cool-down, jobs go to the model's other deployments.",
      new MathExpression({
        expression: 'MAX([FILL(out, 0), FILL(opened, 0)])',
        usingMetrics: {
          out: this.#metric('DeploymentsOpen', Stats.MAXIMUM, fifteenMinutes),
          opened: this.#metric('DeploymentOpened', Stats.SUM, fifteenMinutes),
        },
        period: fifteenMinutes,
        label: 'Deployments open',
      }),
      1,
    );

    // --- Step Functions -----------------------------------------------------------------------
    const sfn = props.stateMachine;
    alarm(
      'ExecutionsFailed',
      `${thresholds.executionsFailed} or more generation executions failed in 15 minutes (each failed job fails its execution).`,
      sfn.metricFailed({ period: fifteenMinutes, statistic: Stats.SUM }),
      thresholds.executionsFailed,
    );
    alarm(
      'ExecutionsTimedOut',
      'A generation execution hit the state machine timeout.',
      sfn.metricTimedOut({ period: fiveMinutes, statistic: Stats.SUM }),
      1,
    );
    alarm(
      'ExecutionsAborted',
      'A generation execution was stopped from outside the pipeline.',
      sfn.metricAborted({ period: fiveMinutes, statistic: Stats.SUM }),
      1,
    );

    // --- API ----------------------------------------------------------------------------------
    const api5xx = props.httpApi.metricServerError({ period: fiveMinutes, statistic: Stats.SUM });
    const apiRequests = props.httpApi.metricCount({ period: fiveMinutes, statistic: Stats.SUM });
    alarm(
      'Api5xxRate',
      `More than ${percent(thresholds.api5xxRate)} of the HTTP API's requests in 5 minutes answered 5xx (at least 10 requests).`,
      new MathExpression({
        expression: 'IF(FILL(requests, 0) >= 10, FILL(errors, 0) / requests, 0)',
        usingMetrics: { errors: api5xx, requests: apiRequests },
        period: fiveMinutes,
        label: 'API 5xx rate',
      }),
      thresholds.api5xxRate,
      { comparison: ComparisonOperator.GREATER_THAN_THRESHOLD },
    );

    // --- Lambda and dead letters --------------------------------------------------------------
    for (const [name, fn] of Object.entries(props.functions)) {
      const title = pascal(name);
      const errors = props.functionErrorThresholds?.[name] ?? thresholds.lambdaErrors;
      alarm(
        `${title}Errors`,
        errors === 1
          ? `The ${name} function failed in the last 5 minutes.`
          : `The ${name} function failed ${errors} times or more in 5 minutes.`,
        fn.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }),
        errors,
      );
      alarm(
        `${title}Throttles`,
        `Invocations of the ${name} function were throttled (account or reserved concurrency).`,
        fn.metricThrottles({ period: fiveMinutes, statistic: Stats.SUM }),
        1,
      );
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${pascal(name)}DeadLetters`,
        `Messages wait in the ${name} dead-letter queue: work that failed after its retries, to look at and redrive.`,
        queue.metricApproximateNumberOfMessagesVisible({
          period: fiveMinutes,
          statistic: Stats.MAXIMUM,
        }),
        1,
      );
    }

    this.dashboard = this.#dashboard(props, thresholds);
  }

  /** A pipeline metric (namespace SoraPipeline) with the service dimension and `dimensions`. */
  #metric(
    name: PipelineMetricName,
    statistic: string,
    period: Duration,
    dimensions: Record<string, string> = {},
  ): Metric {
    return new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { service: this.#serviceName, ...dimensions },
      statistic,
      period,
    });
  }

  /** Every value of a metric with one more dimension (`by`), as separate lines. */
  #search(name: PipelineMetricName, by: string, statistic: string, label: string): MathExpression {
    return new MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},${by},service} MetricName="${name}" service="${this.#serviceName}"', '${statistic}', 300)`,
      label,
      period: Duration.minutes(5),
    });
  }

  #dashboard(props: PipelineMonitoringProps, thresholds: AlarmThresholds): Dashboard {
    const period = Duration.minutes(5);
    const dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(12),
    });
    const wide = { width: 12, height: 6 };
    const third = { width: 8, height: 6 };
    dashboard.addWidgets(
      new TextWidget({
        markdown: `# sora-pipeline\nJobs, provider, spending and the AWS parts under them. What each alarm means and what to do: \`${RUNBOOK}\`.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Jobs submitted by source',
        left: [this.#search('JobsSubmitted', 'source', 'Sum', '')],
        ...wide,
      }),
      new GraphWidget({
        title: 'Jobs completed by source, and failed',
        left: [
          this.#search('JobsCompleted', 'source', 'Sum', ''),
          this.#metric('JobsFailed', Stats.SUM, period).with({ label: 'failed' }),
        ],
        ...wide,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Job duration (submission to COMPLETED)',
        left: [
          this.#metric('JobDuration', Stats.p(50), period).with({ label: 'p50' }),
          this.#metric('JobDuration', Stats.p(95), period).with({ label: 'p95' }),
          this.#metric('GenerationDuration', Stats.p(50), period).with({
            label: 'generation p50',
          }),
        ],
        ...third,
      }),
      new GraphWidget({
        title: 'Jobs failed by code',
        left: [this.#search('JobsFailed', 'code', 'Sum', '')],
        ...third,
      }),
      new GraphWidget({
        title: 'Provider errors by type',
        left: [this.#search('ProviderErrors', 'error', 'Sum', '')],
        leftAnnotations: [
          {
            value: thresholds.providerRateLimited,
            label: '429 alarm',
          } satisfies HorizontalAnnotation,
        ],
        ...third,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Deployments open or half-open (1 = out of use)',
        left: [
          this.#search('DeploymentsOpen', 'deployment', 'Maximum', ''),
          this.#metric('DeploymentsOpen', Stats.MAXIMUM, period).with({ label: 'total' }),
        ],
        ...wide,
      }),
      new GraphWidget({
        title: 'Deployments opened and closed',
        left: [
          this.#search('DeploymentOpened', 'deployment', 'Sum', byDeployment('opened')),
          this.#search('DeploymentClosed', 'deployment', 'Sum', byDeployment('closed')),
        ],
        ...wide,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Jobs waiting and in flight',
        left: [
          this.#metric('JobsWaiting', Stats.MAXIMUM, period).with({ label: 'waiting' }),
          this.#metric('JobsInFlight', Stats.MAXIMUM, period).with({ label: 'in flight' }),
        ],
        right: [
          this.#metric('OldestWaitingJobAge', Stats.MAXIMUM, period).with({
            label: 'oldest wait (s)',
          }),
        ],
        ...wide,
      }),
      new GraphWidget({
        title: 'Spending today (USD) vs the daily budget',
        left: [
          this.#metric('SpentTodayUsd', Stats.MAXIMUM, period).with({ label: 'spent + reserved' }),
        ],
        leftAnnotations:
          props.dailyBudgetUsd === undefined
            ? []
            : [
                { value: props.dailyBudgetUsd, label: 'budget' },
                { value: props.dailyBudgetUsd * thresholds.budgetShare, label: 'alarm' },
              ],
        ...wide,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Download throughput (bytes stored per second)',
        left: [
          new MathExpression({
            expression: 'bytes / PERIOD(bytes)',
            usingMetrics: { bytes: this.#metric('VideoBytesStored', Stats.SUM, period) },
            label: 'bytes/s',
            period,
          }),
        ],
        ...wide,
      }),
      new GraphWidget({
        title: 'Executions',
        left: [
          props.stateMachine.metricStarted({ period }),
          props.stateMachine.metricSucceeded({ period }),
          props.stateMachine.metricFailed({ period }),
          props.stateMachine.metricTimedOut({ period }),
          props.stateMachine.metricAborted({ period }),
        ],
        ...wide,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Lambda errors',
        left: Object.entries(props.functions).map(([name, fn]) =>
          fn.metricErrors({ period, label: name }),
        ),
        ...wide,
      }),
      new GraphWidget({
        title: 'HTTP API',
        left: [props.httpApi.metricCount({ period, statistic: Stats.SUM, label: 'requests' })],
        right: [
          props.httpApi.metricClientError({ period, statistic: Stats.SUM, label: '4xx' }),
          props.httpApi.metricServerError({ period, statistic: Stats.SUM, label: '5xx' }),
        ],
        ...wide,
      }),
    );
    dashboard.addWidgets(
      new SingleValueWidget({
        title: 'Dead letters (messages waiting)',
        metrics: Object.entries(props.deadLetterQueues).map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({ period, label: name }),
        ),
        width: 24,
        height: 3,
      }),
    );
    return dashboard;
  }
}

/** A line's label naming its deployment (a CloudWatch dynamic label), e.g. `opened eastus`. */
function byDeployment(what: string): string {
  return `${what} \${PROP('Dim.deployment')}`;
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
