import path from 'node:path';
import {
  ArnFormat,
  AssetHashType,
  DockerImage,
  type Duration,
  type ILocalBundling,
  RemovalPolicy,
  Stack,
} from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  type CfnFunction,
  Code,
  Function as LambdaFunction,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SETTING_VARIABLES } from '../../functions/shared/config/plain-config.ts';
import { UPLOADS_PREFIX } from '../../functions/shared/media/reference-image.ts';
import { bundleFunction } from './function-bundle.ts';
import { acknowledgeWildcards, wildcardResourceFinding } from './nag-acknowledgments.ts';

/**
 * Template metadata key naming a function's entry module (project-relative). The local stack
 * reads it to map each Lambda logical id to the handler it runs in-process.
 */
export const HANDLER_MODULE_METADATA_KEY = 'sora-pipeline:handler-module';

/** The environment variable a secret's id is published under (see docs/architecture.md). */
export type SecretEnvName = (typeof SETTING_VARIABLES)[
  | 'providerSecretId'
  | 'apiTokensSecretId'
  | 'webhookSecretId'];

export type BucketAccess = 'read' | 'write';

export interface PipelineFunctionProps {
  /** Entry module relative to `projectRoot`, e.g. `functions/tasks/poll-provider-job.ts`. */
  handlerModule: string;
  description: string;
  timeout: Duration;
  memorySize: number;
  /**
   * Bundle the entry with the local esbuild. `false` deploys an inline stub instead: the
   * template keeps the same logical ids, settings and grants, and synthesis takes no bundling
   * time and does not need the handler files (tests, the local stack).
   */
  bundle: boolean;
  /** Absolute path of the project root (holds package-lock.json and the handler modules). */
  projectRoot: string;
  serviceName: string;
  logLevel: string;
  logRetention?: RetentionDays;
  environment?: Record<string, string>;
}

/**
 * Bundles a handler with esbuild in this process (function-bundle.ts). The entry is a property,
 * not only a closure: CDK caches bundles by their options (functions do not count), so two
 * functions must differ there or the second would get the first one's bundle.
 */
class LocalFunctionBundling implements ILocalBundling {
  readonly entry: string;

  constructor(entry: string) {
    this.entry = entry;
  }

  tryBundle(outputDir: string): boolean {
    bundleFunction(this.entry, outputDir);
    return true;
  }
}

/**
 * One Lambda function with the project's defaults fixed in one place: Node.js 24 on arm64, an
 * ESM bundle split into chunks loaded on first use (function-bundle.ts), active tracing, an explicit log group with retention, and a role
 * that only holds what the `use...()` helpers grant (each grant also sets the env var the
 * handler reads, so the two can never drift apart).
 */
export class PipelineFunction extends Construct {
  readonly function: LambdaFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;
  readonly handlerModule: string;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.handlerModule = props.handlerModule;

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A role of our own instead of the default one with AWSLambdaBasicExecutionRole: the
    // function may write to its own log group and nowhere else.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.handlerModule}`,
    });

    const common = {
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memorySize,
      // Tracing is switched on below, with its grant in a policy of its own.
      logGroup: this.logGroup,
      role: this.role,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        // No NODE_OPTIONS=--enable-source-maps: Node would parse every loaded file's map at each
        // cold start; an error's stack is mapped when it leaves the handler instead
        // (functions/shared/observability/source-mapped-stack.ts).
        ...props.environment,
      },
    };

    this.function = props.bundle
      ? new LambdaFunction(this, 'Function', {
          ...common,
          handler: 'index.handler',
          // The project root is only the place esbuild resolves from: the asset is the bundle
          // (hashed by its output, so the template changes only when the bundle does).
          code: Code.fromAsset(props.projectRoot, {
            assetHashType: AssetHashType.OUTPUT,
            bundling: {
              // esbuild runs in this process: no container is ever started.
              image: DockerImage.fromRegistry('scratch'),
              local: new LocalFunctionBundling(path.join(props.projectRoot, props.handlerModule)),
            },
          }),
        })
      : new LambdaFunction(this, 'Function', {
          ...common,
          handler: 'index.handler',
          code: Code.fromInline(
            `exports.handler = async () => { throw new Error('${props.handlerModule} was synthesized without bundling'); };`,
          ),
        });

    this.logGroup.grantWrite(this.role);
    // Active tracing, granted in a Tracing policy of its own (not the role's default policy, as
    // `tracing: Tracing.ACTIVE` would): its '*' is acknowledged there and nowhere else, so a
    // wildcard that ever appears in the default policy is still reported.
    const cfnFunction = this.function.node.defaultChild as CfnFunction;
    cfnFunction.tracingConfig = { mode: 'Active' };
    const tracingPolicy = new Policy(this, 'Tracing', {
      roles: [this.role],
      statements: [
        new PolicyStatement({
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        }),
      ],
    });
    cfnFunction.node.addDependency(tracingPolicy);
    acknowledgeWildcards(
      tracingPolicy,
      ['Resource::*'],
      'xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no resource-level permissions.',
    );
    (this.function.node.defaultChild as CfnFunction).addMetadata(
      HANDLER_MODULE_METADATA_KEY,
      props.handlerModule,
    );
  }

  /**
   * Get, put and update job items (the actions the job store and the limits send; no delete, no
   * scan, no batch); with `queryIndexes`, also query the table's GSIs (listing), or only the
   * named ones (e.g. the byQueue index a hand-off reads). Sets JOBS_TABLE_NAME.
   */
  useJobsTable(table: ITable, options: { queryIndexes?: boolean | readonly string[] } = {}): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [table.tableArn],
      }),
    );
    if (Array.isArray(options.queryIndexes)) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: options.queryIndexes.map((index) => `${table.tableArn}/index/${index}`),
        }),
      );
    } else if (options.queryIndexes === true) {
      const indexes = `${table.tableArn}/index/*`;
      this.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['dynamodb:Query'], resources: [indexes] }),
      );
      this.#acknowledgeDefaultPolicy(
        [wildcardResourceFinding(this, table.tableArn, '/index/*')],
        'dynamodb:Query on the GSIs of the jobs table (byStatus, byCreatedAt) to list jobs; the indexes of this one table only.',
      );
    }
    this.function.addEnvironment(SETTING_VARIABLES.jobsTableName, table.tableName);
    return this;
  }

  /**
   * `read` lets the function read (and presign reads of) the objects under videos/; `write` also
   * lets it put them and abort its multipart uploads there (a rejected stream leaves nothing
   * behind). Nothing else in the bucket, and no delete. Sets VIDEOS_BUCKET_NAME.
   */
  useVideosBucket(bucket: IBucket, access: BucketAccess): this {
    const actions =
      access === 'read'
        ? ['s3:GetObject']
        : // GetObject: a resumed job adopts a whole video an earlier execution stored.
          ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'];
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions, resources: [bucket.arnForObjects(`${VIDEOS_PREFIX}*`)] }),
    );
    this.#acknowledgeDefaultPolicy(
      [wildcardResourceFinding(this, bucket.bucketArn, `/${VIDEOS_PREFIX}*`)],
      access === 'read'
        ? "s3:GetObject on the objects under videos/ only (reading and presigning a job's media); object keys are job ids, unknown when the policy is written."
        : 's3:GetObject, s3:PutObject (multipart uploads included) and s3:AbortMultipartUpload on the objects under videos/ only; object keys are job ids, unknown when the policy is written.',
    );
    this.function.addEnvironment(SETTING_VARIABLES.videosBucketName, bucket.bucketName);
    return this;
  }

  /** Read the reference images under uploads/ only (image-to-video). Sets VIDEOS_BUCKET_NAME. */
  readsUploads(bucket: IBucket): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${UPLOADS_PREFIX}*`)],
      }),
    );
    this.#acknowledgeDefaultPolicy(
      [wildcardResourceFinding(this, bucket.bucketArn, `/${UPLOADS_PREFIX}*`)],
      "Reads the reference images under uploads/ (image-to-video); their keys are the clients' to choose, unknown when the policy is written.",
    );
    this.function.addEnvironment(SETTING_VARIABLES.videosBucketName, bucket.bucketName);
    return this;
  }

  /** Put reference images under uploads/ only (multipart POST /videos). */
  writesUploads(bucket: IBucket): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${UPLOADS_PREFIX}*`)],
      }),
    );
    this.#acknowledgeDefaultPolicy(
      [wildcardResourceFinding(this, bucket.bucketArn, `/${UPLOADS_PREFIX}*`)],
      'Puts the reference images a request carries under uploads/ (named by their content hash, unknown when the policy is written).',
    );
    return this;
  }

  /** Read one secret's value (GetSecretValue only); its ARN (never its value) goes into `envName`. */
  useSecret(secret: ISecret, envName: SecretEnvName): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secret.secretArn],
      }),
    );
    this.function.addEnvironment(envName, secret.secretArn);
    return this;
  }

  /** Publish job state-change events to one event bus (PutEvents only). Sets JOB_EVENTS_BUS_NAME. */
  useJobEvents(bus: IEventBus): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['events:PutEvents'], resources: [bus.eventBusArn] }),
    );
    this.function.addEnvironment(SETTING_VARIABLES.jobEventsBusName, bus.eventBusName);
    return this;
  }

  /**
   * The shared limits (concurrency slots, requests per minute, daily budget): sets
   * MAX_CONCURRENT_JOBS, PROVIDER_REQUESTS_PER_MINUTE, DAILY_BUDGET_USD (when there is a budget),
   * and OVER_BUDGET_ACTION. The limits are items of the jobs table, so the
   * access comes with `useJobsTable`; call both.
   */
  useLimits(limits: { environment: Record<string, string> }): this {
    for (const [name, value] of Object.entries(limits.environment)) {
      this.function.addEnvironment(name, value);
    }
    return this;
  }

  /**
   * Start executions of the state machine; with `describeExecutions`, also read the status of
   * its executions (the scheduler's sweep); with `stopExecutions`, stop them (cancel). Sets
   * STATE_MACHINE_ARN.
   */
  useStateMachine(
    stateMachine: IStateMachine,
    options: { describeExecutions?: boolean; stopExecutions?: boolean } = {},
  ): this {
    stateMachine.grantStartExecution(this.role);
    if (options.stopExecutions) {
      stateMachine.grantExecution(this.role, 'states:StopExecution');
      this.#acknowledgeDefaultPolicy(
        [wildcardResourceFinding(this, executionsOf(stateMachine))],
        'StopExecution (cancelling a job) on the executions of the generation state machine only; execution names are job ids, unknown when the policy is written.',
      );
    }
    if (options.describeExecutions) {
      stateMachine.grantExecution(this.role, 'states:DescribeExecution');
      this.#acknowledgeDefaultPolicy(
        [wildcardResourceFinding(this, executionsOf(stateMachine))],
        'DescribeExecution on the executions of the generation state machine only; execution names are job ids, unknown when the policy is written.',
      );
    }
    this.function.addEnvironment(SETTING_VARIABLES.stateMachineArn, stateMachine.stateMachineArn);
    return this;
  }

  /**
   * Queue webhook deliveries: start executions of the webhook state machine. Sets
   * WEBHOOK_STATE_MACHINE_ARN.
   */
  notifiesWebhooks(stateMachine: IStateMachine): this {
    stateMachine.grantStartExecution(this.role);
    this.function.addEnvironment(
      SETTING_VARIABLES.webhookStateMachineArn,
      stateMachine.stateMachineArn,
    );
    return this;
  }

  /**
   * Start executions of the state machine that invokes this function (hand-offs of freed slots,
   * resumed jobs); the ARN comes in the task's payload (`$$.StateMachine.Id`), not the
   * environment. A policy of its own, not the role's default policy: the state machine depends
   * on this function, so the function must not depend on the state machine.
   */
  startsExecutionsOf(stateMachine: IStateMachine): this {
    new Policy(this, 'StartsExecutions', {
      roles: [this.role],
      statements: [
        new PolicyStatement({
          actions: ['states:StartExecution'],
          resources: [stateMachine.stateMachineArn],
        }),
      ],
    });
    return this;
  }

  /**
   * Read the files dropped under each folder's prefix and write their reports under its results
   * prefix; nothing else in the bucket.
   */
  useDropFolders(
    bucket: IBucket,
    folders: readonly { prefix: string; resultsPrefix: string }[],
  ): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: folders.map((folder) => bucket.arnForObjects(`${folder.prefix}*`)),
      }),
    );
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: folders.map((folder) => bucket.arnForObjects(`${folder.resultsPrefix}*`)),
      }),
    );
    this.#acknowledgeDefaultPolicy(
      folders.flatMap((folder) => [
        wildcardResourceFinding(this, bucket.bucketArn, `/${folder.prefix}*`),
        wildcardResourceFinding(this, bucket.bucketArn, `/${folder.resultsPrefix}*`),
      ]),
      's3:GetObject on the dropped prompt files under the drop folder prefixes and s3:PutObject of their reports under the results prefixes; file names are chosen by whoever drops them.',
    );
    return this;
  }

  /**
   * Acknowledges IAM5 findings on the role's default policy, where the statement that caused them
   * lives: not on the whole function, so a wildcard in another of its policies is still reported.
   */
  #acknowledgeDefaultPolicy(findings: string[], reason: string): void {
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (policy === undefined)
      throw new Error(`${this.node.path}: no default policy to acknowledge`);
    acknowledgeWildcards(policy, findings, reason);
  }
}

/** Where job media lives in the bucket (functions/shared/storage/video-storage.ts mediaKeys). */
const VIDEOS_PREFIX = 'videos/';

/** The ARN pattern of a state machine's executions, as `grantExecution` writes it. */
function executionsOf(stateMachine: IStateMachine): string {
  const name = Stack.of(stateMachine).splitArn(
    stateMachine.stateMachineArn,
    ArnFormat.COLON_RESOURCE_NAME,
  ).resourceName;
  // formatArn uses the stack's region and account exactly as grantExecution does: concrete when
  // the CLI sets them (cdk synth/deploy), tokens otherwise, so the acknowledgement always matches.
  return Stack.of(stateMachine).formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${name}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
