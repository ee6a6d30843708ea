import { Annotations, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { type ITable, Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Bucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { API_ROUTES, routeKey } from '../../functions/api/api-routes.ts';
import { DROP_FOLDERS } from '../../functions/shared/intake/drop-folder.ts';
import { BY_QUEUE_INDEX, JOB_INDEXES } from '../../functions/shared/jobs/jobs-table.ts';
import { DEFAULT_MAX_RETRIES } from '../../functions/shared/provider/provider-config.ts';
import { consoleConfigDocument } from '../console/console-config.ts';
import { BatchSchedule, DropFolderNotifications } from '../constructs/batch-triggers.ts';
import { grantBedrockAccess } from '../constructs/bedrock-access.ts';
import { ConsoleSite } from '../constructs/console-site.ts';
import { DeadLetters } from '../constructs/dead-letters.ts';
import { GenerationStateMachine } from '../constructs/generation-state-machine.ts';
import { PipelineFunction } from '../constructs/pipeline-function.ts';
import { PipelineMonitoring } from '../constructs/pipeline-monitoring.ts';
import { VideoApi } from '../constructs/video-api.ts';
import { WebhookDelivery } from '../constructs/webhook-delivery.ts';
import { ContextError } from './context-value.ts';
import { clientRateSettingsFromContext, limitsSettingsFromContext } from './limits-settings.ts';
import { monitoringSettingsFromContext } from './monitoring-settings.ts';
import { PROVIDER_CONTEXT_KEYS, providerSettingsFromContext } from './provider-settings.ts';
import { scheduleExpressionFromContext } from './schedule-settings.ts';

/**
 * A task that frees a slot hands it on (functions/shared/admission): it reads the head of a
 * client's queue on this index, and no other.
 */
const HAND_OFF_INDEXES = [BY_QUEUE_INDEX.name] as const;

/** Entry modules of the Lambda functions, relative to the project root. */
export const HANDLER_MODULES = {
  api: 'functions/api/handler.ts',
  authorizer: 'functions/api/authorizer.ts',
  admitJob: 'functions/tasks/admit-job.ts',
  createProviderJob: 'functions/tasks/create-provider-job.ts',
  pollProviderJob: 'functions/tasks/poll-provider-job.ts',
  downloadVideo: 'functions/tasks/download-video.ts',
  recordFailure: 'functions/tasks/record-failure.ts',
  intake: 'functions/intake/handler.ts',
  scheduler: 'functions/scheduler/handler.ts',
  deliverWebhook: 'functions/webhooks/deliver-webhook.ts',
} as const;

export type PipelineFunctionName = keyof typeof HANDLER_MODULES;

/** Construct ids; they also prefix the functions' logical ids (`CreateProviderJobFunction1A2B...`). */
const CONSTRUCT_IDS: Record<PipelineFunctionName, string> = {
  api: 'Api',
  authorizer: 'Authorizer',
  admitJob: 'AdmitJob',
  createProviderJob: 'CreateProviderJob',
  pollProviderJob: 'PollProviderJob',
  downloadVideo: 'DownloadVideo',
  recordFailure: 'RecordFailure',
  intake: 'Intake',
  scheduler: 'Scheduler',
  deliverWebhook: 'DeliverWebhook',
};

/**
 * The longest one provider call can take through the client: every attempt times out, with the
 * SDK's backoff (at most 8 s) between attempts.
 */
export function providerCallWorstCase(timeoutMs: number, maxRetries: number): Duration {
  return Duration.millis(timeoutMs * (maxRetries + 1) + 8_000 * maxRetries);
}
// Room for the DynamoDB reads and writes around the provider calls.
const TASK_OVERHEAD = Duration.seconds(60);
// The create step may list recent jobs (reconciliation) before its one create: give it Lambda's
// maximum, and check at synth that a few worst-case calls fit.
const CREATE_TASK_TIMEOUT = Duration.minutes(15);
const CREATE_WORST_CASE_CALLS = 4;

export interface PipelineStackProps extends StackProps {
  videosBucket: IBucket;
  jobsTable: ITable;
  providerApiKeySecret: ISecret;
  apiTokensSecret: ISecret;
  webhookSigningSecret: ISecret;
  /** Bundle the handlers with esbuild (deployments); false synthesizes inline stubs (fast). */
  bundle: boolean;
  /** Absolute path of the project root. */
  projectRoot: string;
}

/**
 * Everything that can be replaced at will: the functions, the generation state machine and the
 * HTTP API. State lives in the StatefulStack and comes in as props.
 */
export class PipelineStack extends Stack {
  readonly functions: Record<PipelineFunctionName, PipelineFunction>;
  readonly generation: GenerationStateMachine;
  readonly webhooks: WebhookDelivery;
  readonly api: VideoApi;
  readonly console: ConsoleSite;
  /** Job state-change events (docs/guide.md, "Job events"). */
  readonly jobEvents: EventBus;
  /** Failed asynchronous invocations (drop-folder intake, scheduler). */
  readonly deadLetters: DeadLetters;
  readonly monitoring: PipelineMonitoring;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const stateful = importStatefulResources(this, props);

    const provider = providerSettingsFromContext(this.node);
    if (provider.baseUrlIsDefault) {
      Annotations.of(this).addWarningV2(
        'sora-pipeline:providerBaseUrl',
        `${PROVIDER_CONTEXT_KEYS.baseUrl} is not set: using ${provider.environment.PROVIDER_BASE_URL}, which OpenAI shut down on 2026-09-24. Point it at a /v1/videos-compatible provider (-c ${PROVIDER_CONTEXT_KEYS.baseUrl}=https://...).`,
      );
    }
    // Concurrency slots, requests per minute and the daily budget, shared by every entry point.
    const limits = limitsSettingsFromContext(this.node);
    // Each API client's request rate (the API function only).
    const clientRate = clientRateSettingsFromContext(this.node);
    const logLevel = String(this.node.tryGetContext('logLevel') ?? 'INFO');
    const serviceName = 'sora-pipeline';
    // Every stored job state change is published here (functions that change a job's status
    // get PutEvents on this bus and nothing else of EventBridge).
    this.jobEvents = new EventBus(this, 'JobEvents', {
      description: 'sora-pipeline job state changes (detail-type "Video Job State Changed")',
    });
    this.deadLetters = new DeadLetters(this, 'AsyncDeadLetters');
    const fn = (
      name: PipelineFunctionName,
      description: string,
      timeout: Duration,
      memorySize: number,
      environment: Record<string, string> = {},
    ) =>
      new PipelineFunction(this, CONSTRUCT_IDS[name], {
        handlerModule: HANDLER_MODULES[name],
        description,
        timeout,
        memorySize,
        environment,
        bundle: props.bundle,
        projectRoot: props.projectRoot,
        serviceName,
        logLevel,
      });

    // Lambda timeouts outlast the provider client's worst case, so a slow provider surfaces as a
    // provider error (retried, or resumed), never as a killed Lambda mid-call.
    const callWorstCase = providerCallWorstCase(
      Number(provider.environment.PROVIDER_TIMEOUT_MS),
      Number(provider.environment.PROVIDER_MAX_RETRIES ?? DEFAULT_MAX_RETRIES),
    );
    if (
      callWorstCase.toMilliseconds() * CREATE_WORST_CASE_CALLS + TASK_OVERHEAD.toMilliseconds() >
      CREATE_TASK_TIMEOUT.toMilliseconds()
    ) {
      throw new ContextError(
        PROVIDER_CONTEXT_KEYS.timeoutMs,
        `context ${PROVIDER_CONTEXT_KEYS.timeoutMs} (${provider.environment.PROVIDER_TIMEOUT_MS}) is too long: ${CREATE_WORST_CASE_CALLS} provider calls with retries must fit the create function's ${CREATE_TASK_TIMEOUT.toMinutes()}-minute timeout`,
      );
    }
    const pollTimeout = Duration.seconds(
      Math.ceil(callWorstCase.plus(TASK_OVERHEAD).toMilliseconds() / 1000),
    );
    // Webhook deliveries: their own state machine, started by whoever records an event.
    const deliverWebhook = fn(
      'deliverWebhook',
      'Delivers one signed webhook event and records the attempt on its job',
      Duration.seconds(30),
      256,
    )
      .useJobsTable(stateful.jobsTable)
      .useSecret(stateful.webhookSigningSecret, 'WEBHOOK_SECRET_ID');
    this.webhooks = new WebhookDelivery(this, 'Webhooks', {
      deliverWebhook: deliverWebhook.function,
    });
    const webhookMachine = this.webhooks.stateMachine;

    // Admission: slots and money (functions/shared/admission). Prices come from the catalogue,
    // hence the provider settings; the provider itself is never called.
    const admitJob = fn(
      'admitJob',
      'Admits a video job: a slot by fair share and its budget reservation, or parks it',
      Duration.seconds(60),
      256,
      provider.environment,
    )
      .useJobsTable(stateful.jobsTable, { queryIndexes: HAND_OFF_INDEXES })
      .useLimits(limits)
      .useJobEvents(this.jobEvents)
      .notifiesWebhooks(webhookMachine);
    const createProviderJob = fn(
      'createProviderJob',
      'Reconciles or creates the provider job of a video',
      CREATE_TASK_TIMEOUT,
      512,
      provider.environment,
    )
      .useJobsTable(stateful.jobsTable, { queryIndexes: HAND_OFF_INDEXES })
      .useLimits(limits)
      .useJobEvents(this.jobEvents)
      .useSecret(stateful.providerApiKeySecret, 'PROVIDER_SECRET_ID')
      .readsUploads(stateful.videosBucket)
      .notifiesWebhooks(webhookMachine);
    const pollProviderJob = fn(
      'pollProviderJob',
      'Polls the provider job and picks the next wait',
      pollTimeout,
      512,
      provider.environment,
    )
      .useJobsTable(stateful.jobsTable, { queryIndexes: HAND_OFF_INDEXES })
      .useLimits(limits)
      // Its hand-off cancels a waiting job whose start timeout passed: a status change, announced.
      .useJobEvents(this.jobEvents)
      .useSecret(stateful.providerApiKeySecret, 'PROVIDER_SECRET_ID')
      .notifiesWebhooks(webhookMachine);
    // Streams the MP4 into S3: memory stays flat (multipart parts), time grows with size.
    const downloadVideo = fn(
      'downloadVideo',
      'Streams the finished video into S3 and records the job COMPLETED',
      Duration.minutes(15),
      1024,
      provider.environment,
    )
      .useJobsTable(stateful.jobsTable, { queryIndexes: HAND_OFF_INDEXES })
      .useLimits(limits)
      .useVideosBucket(stateful.videosBucket, 'write')
      .useJobEvents(this.jobEvents)
      .useSecret(stateful.providerApiKeySecret, 'PROVIDER_SECRET_ID')
      .notifiesWebhooks(webhookMachine);
    // The catalogue names each model's deployments, where its hand-offs place slots.
    const recordFailure = fn(
      'recordFailure',
      'Records a job FAILED with its reason',
      Duration.seconds(30),
      256,
      provider.environment,
    )
      .useJobsTable(stateful.jobsTable, { queryIndexes: HAND_OFF_INDEXES })
      .useLimits(limits)
      .useJobEvents(this.jobEvents)
      .notifiesWebhooks(webhookMachine);

    // Bedrock models of the catalogue: scoped access for the three tasks that call Bedrock.
    const bedrock = {
      models: provider.bedrockModels,
      region: provider.bedrockRegion ?? this.region,
      bucket: stateful.videosBucket,
    };
    grantBedrockAccess(createProviderJob, bedrock, 'create');
    grantBedrockAccess(pollProviderJob, bedrock, 'poll');
    grantBedrockAccess(downloadVideo, bedrock, 'download');

    this.generation = new GenerationStateMachine(this, 'Generation', {
      admitJob: admitJob.function,
      createProviderJob: createProviderJob.function,
      pollProviderJob: pollProviderJob.function,
      downloadVideo: downloadVideo.function,
      recordFailure: recordFailure.function,
    });
    // Tasks that free a slot start the next waiting job; RecordFailure also resumes a job.
    for (const task of [
      admitJob,
      createProviderJob,
      pollProviderJob,
      downloadVideo,
      recordFailure,
    ]) {
      task.startsExecutionsOf(this.generation.stateMachine);
    }

    // The api validates requests against the provider catalogue, hence the provider settings;
    // GET /usage reads the limits; cancel stops executions, deletes provider jobs (hence the
    // provider key) and hands freed slots to waiting jobs. Its client request counters are
    // items of the jobs table (UpdateItem, granted with the table).
    const api = fn(
      'api',
      'HTTP API: submit, list, read and cancel video jobs',
      Duration.seconds(15),
      512,
      { ...provider.environment, ...clientRate.environment },
    )
      .useJobsTable(stateful.jobsTable, { queryIndexes: true })
      .useLimits(limits)
      .useVideosBucket(stateful.videosBucket, 'read')
      .readsUploads(stateful.videosBucket)
      .writesUploads(stateful.videosBucket)
      .useJobEvents(this.jobEvents)
      .useStateMachine(this.generation.stateMachine, { stopExecutions: true })
      .useSecret(stateful.providerApiKeySecret, 'PROVIDER_SECRET_ID')
      .useSecret(stateful.webhookSigningSecret, 'WEBHOOK_SECRET_ID')
      .notifiesWebhooks(webhookMachine);
    const authorizer = fn(
      'authorizer',
      'HTTP API authorizer: checks the bearer token against the API tokens secret',
      Duration.seconds(5),
      256,
    ).useSecret(stateful.apiTokensSecret, 'API_TOKENS_SECRET_ID');

    // The web console: on CloudFront, calling the API cross-origin (CORS for its origin only).
    this.console = new ConsoleSite(this, 'Console', {
      videosBucket: stateful.videosBucket,
      bundle: props.bundle,
    });
    this.api = new VideoApi(this, 'VideoApi', {
      handler: api.function,
      authorizer: authorizer.function,
      corsOrigins: [this.console.origin],
    });
    this.console.deploy({
      ...consoleConfigDocument(
        this.api.url,
        { ...provider.environment, ...limits.environment },
        API_ROUTES.map(routeKey),
      ),
    });

    // Drop folder and schedule (docs/architecture.md, "Batches"). The intake validates entries
    // against the provider catalogue, hence the provider settings.
    const intake = fn(
      'intake',
      'S3 drop folder: turns dropped prompt files into jobs and writes their reports',
      Duration.minutes(5),
      512,
      provider.environment,
    )
      // No limits: a dropped job is admitted by its execution's AdmitJob step.
      .useJobsTable(stateful.jobsTable)
      .useDropFolders(stateful.videosBucket, DROP_FOLDERS)
      .useJobEvents(this.jobEvents)
      .useStateMachine(this.generation.stateMachine);
    // S3 invokes the intake asynchronously: after two retries within an hour, the S3 event goes
    // to the dead letters (with the error) instead of being discarded.
    this.deadLetters.receiveFailuresOf(intake.function, {
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
    });
    new DropFolderNotifications(this, 'DropFolder', {
      bucket: stateful.videosBucket,
      intake: intake.function,
      folders: DROP_FOLDERS,
    });
    const scheduler = fn(
      'scheduler',
      'Scheduled run: starts deferred jobs within the limits, sweeps stuck jobs and slots',
      Duration.minutes(5),
      256,
      provider.environment,
    )
      .useJobsTable(stateful.jobsTable, { queryIndexes: true })
      .useLimits(limits)
      .useJobEvents(this.jobEvents)
      .useStateMachine(this.generation.stateMachine, { describeExecutions: true })
      // A job the sweep closes as FAILED (execution_lost) announces video.failed like any other.
      .notifiesWebhooks(webhookMachine);
    // A failed run is not retried (the next one comes within minutes and does the same work);
    // it is recorded in the dead letters, as is a run EventBridge could not deliver.
    this.deadLetters.receiveFailuresOf(scheduler.function, {
      retryAttempts: 0,
      maxEventAge: Duration.minutes(10),
    });
    new BatchSchedule(this, 'BatchSchedule', {
      scheduler: scheduler.function,
      expression: scheduleExpressionFromContext(this.node),
      deadLetterQueue: this.deadLetters.queue,
    });

    this.functions = {
      api,
      authorizer,
      admitJob,
      createProviderJob,
      pollProviderJob,
      downloadVideo,
      recordFailure,
      intake,
      scheduler,
      deliverWebhook,
    };

    const monitoringSettings = monitoringSettingsFromContext(this.node);
    const dailyBudget = limits.environment.DAILY_BUDGET_USD;
    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      functions: Object.fromEntries(
        Object.entries(this.functions).map(([name, fn]) => [name, fn.function]),
      ),
      // Every failure of these matters: no tokens readable, a dropped file, a scheduled run.
      functionErrorThresholds: { authorizer: 1, intake: 1, scheduler: 1 },
      stateMachine: this.generation.stateMachine,
      httpApi: this.api.httpApi,
      deadLetterQueues: { async: this.deadLetters.queue },
      serviceName,
      ...(dailyBudget === undefined ? {} : { dailyBudgetUsd: Number(dailyBudget) }),
      ...(monitoringSettings.alarmEmail ? { alarmEmail: monitoringSettings.alarmEmail } : {}),
      thresholds: monitoringSettings.thresholds,
    });

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.url,
      description: 'HTTP API base URL (send Authorization: Bearer <token>)',
    });
    new CfnOutput(this, 'ConsoleUrl', {
      value: this.console.url,
      description: 'Web console (sign in with an API token)',
    });
    new CfnOutput(this, 'StateMachineArn', {
      value: this.generation.stateMachine.stateMachineArn,
      description: 'Generation state machine (one execution per job, named by the job id)',
    });
    new CfnOutput(this, 'JobEventsBusName', {
      value: this.jobEvents.eventBusName,
      description:
        'EventBridge bus of job state changes: add rules matching source "sora-pipeline"',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.monitoring.topic.topicArn,
      description: 'SNS topic every alarm notifies (subscribe, or deploy with -c alarms:email=...)',
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.deadLetters.queue.queueUrl,
      description:
        'Failed asynchronous invocations (drop folder, scheduler): see "Operating it" to redrive',
    });
    new CfnOutput(this, 'DashboardName', {
      value: this.monitoring.dashboard.dashboardName,
      description: 'CloudWatch dashboard of the pipeline',
    });
  }
}

interface StatefulResources {
  videosBucket: IBucket;
  jobsTable: ITable;
  providerApiKeySecret: ISecret;
  apiTokensSecret: ISecret;
  webhookSigningSecret: ISecret;
}

/**
 * Takes the stateful resources across the stack boundary through exports with stable,
 * readable names (`<StatefulStack>-JobsTableName`, ...) and imports them here. Named exports
 * keep the consumer's IAM resources predictable, which cdk-nag acknowledgments depend on, and
 * make it explicit which four values the stateless stack relies on.
 */
function importStatefulResources(consumer: Stack, props: StatefulResources): StatefulResources {
  const share = (resource: IBucket | ITable | ISecret, value: string, name: string): string => {
    const producer = Stack.of(resource);
    if (producer === consumer) return value;
    consumer.addStackDependency(producer);
    return producer.exportValue(value, { name: `${producer.stackName}-${name}` });
  };
  const { videosBucket, jobsTable, providerApiKeySecret, apiTokensSecret, webhookSigningSecret } =
    props;
  return {
    videosBucket: Bucket.fromBucketAttributes(consumer, 'VideosBucket', {
      bucketName: share(videosBucket, videosBucket.bucketName, 'VideosBucketName'),
    }),
    jobsTable: Table.fromTableAttributes(consumer, 'JobsTable', {
      tableName: share(jobsTable, jobsTable.tableName, 'JobsTableName'),
      globalIndexes: JOB_INDEXES.map((index) => index.name),
    }),
    providerApiKeySecret: Secret.fromSecretCompleteArn(
      consumer,
      'ProviderApiKeySecret',
      share(providerApiKeySecret, providerApiKeySecret.secretArn, 'ProviderApiKeySecretArn'),
    ),
    apiTokensSecret: Secret.fromSecretCompleteArn(
      consumer,
      'ApiTokensSecret',
      share(apiTokensSecret, apiTokensSecret.secretArn, 'ApiTokensSecretArn'),
    ),
    webhookSigningSecret: Secret.fromSecretCompleteArn(
      consumer,
      'WebhookSigningSecret',
      share(webhookSigningSecret, webhookSigningSecret.secretArn, 'WebhookSigningSecretArn'),
    ),
  };
}
