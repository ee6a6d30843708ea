import './handler-defaults.ts';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { openApiDocument } from '../../functions/api/openapi.ts';
import type { ClientShareSettings } from '../../functions/shared/admission/client-share.ts';
import { SETTING_VARIABLES } from '../../functions/shared/config/plain-config.ts';
import { DROP_FOLDERS } from '../../functions/shared/intake/drop-folder.ts';
import {
  type ClientRateConfig,
  clientRateConfigFromEnv,
} from '../../functions/shared/limits/client-rate-config.ts';
import {
  type LimitsConfig,
  limitsConfigFromEnv,
} from '../../functions/shared/limits/limits-config.ts';
import type { SchedulerSummary } from '../../functions/shared/scheduler/run-scheduler.ts';
import { consoleConfigDocument } from '../console/console-config.ts';
import { HANDLER_MODULE_METADATA_KEY } from '../constructs/pipeline-function.ts';
import { CLIENT_RATE_CONTEXT_KEYS } from '../stacks/limits-settings.ts';
import { PROJECT_ROOT, type SynthesizedPipeline, synthesizePipeline } from '../synth-pipeline.ts';
import { type RunningConsoleServer, startConsoleServer } from './console-server.ts';
import { lockDataDir } from './data-dir-lock.ts';
import {
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
  stopStaleDynamoDbLocal,
} from './dynamodb-local.ts';
import { httpApiFromTemplate } from './http-api-routes.ts';
import {
  InProcessLambdas,
  type LambdaFunctionError,
  noteInvocationJobId,
} from './in-process-lambdas.ts';
import { type RunningLocalApiGateway, startLocalApiGateway } from './local-api-gateway.ts';
import { localApiTokens, localWebhookSigningSecret } from './local-api-tokens.ts';
import { type RunningLocalAwsEndpoint, startLocalAwsEndpoint } from './local-aws-endpoint.ts';
import { checkCapsWithin, checkClientSettings } from './local-client-settings.ts';
import {
  assertSpeedForProvider,
  type LocalClock,
  savedClockPosition,
  startLocalClock,
} from './local-clock.ts';
import { localProviderKeys } from './local-deployment-keys.ts';
import { LocalStackError } from './local-errors.ts';
import { type LocalBusEvent, LocalEventBus } from './local-event-bus.ts';
import { LocalEventSources } from './local-event-sources.ts';
import { LOCAL_REGION } from './local-ids.ts';
import { type LocalFunctionSpec, localFunctions, localResolver } from './local-resources.ts';
import { LocalSecrets } from './local-secrets.ts';
import { LocalStepFunctions } from './local-step-functions.ts';
import { createLocalTable, type LocalTable, tableFromTemplate } from './local-tables.ts';
import { bucketNotificationsFromTemplate, schedulesFromTemplate } from './local-triggers.ts';
import { assertPortFree } from './ports.ts';
import { type RunningS3Local, startS3Local } from './s3-local.ts';
import {
  deploymentJournalFile,
  type SimulatedDeployment,
  type SimulatorDeployment,
  simulatedDeployment,
  startSimulatorPool,
} from './simulator/pool.ts';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from './simulator/simulator.ts';
import { catalogueOnPool, simulatorCatalogue } from './simulator-catalogue.ts';
import { stateMachinesFromTemplate } from './state-machine-definition.ts';
import { createStateMachineRunner } from './state-machine-runner.ts';

/** A real /v1/videos provider instead of the simulator. */
export interface RealProvider {
  baseUrl: string;
  apiKey: string;
  model?: string;
  /** JSON model catalogue (PROVIDER_MODELS). */
  models?: string;
  /** Request timeout in ms (PROVIDER_TIMEOUT_MS). */
  timeoutMs?: string;
  /** `api-key` for Azure OpenAI (PROVIDER_AUTH_HEADER). */
  authHeader?: string;
}

/** One simulated deployment of `simulatorPool`, and what the catalogue says of it. */
export interface SimulatorPoolDeployment extends Omit<SimulatorDeployment, 'port'> {
  /** Its weight in the catalogue (default 1). */
  weight?: number;
  /**
   * The catalogue's `maxConcurrent`; default: the simulator's `maxConcurrentJobs`, the quota the
   * pipeline must keep to. null declares none (a test that provokes the simulator's 429s).
   */
  maxConcurrent?: number | null;
  /** The catalogue's `requestsPerMinute`; default: the simulator's, when it counts creates. */
  requestsPerMinute?: number | null;
}

export interface LocalStackOptions {
  /**
   * Root of the data kept across restarts (`.local`); null keeps nothing (tests). One stack per
   * directory: a second one fails with a `stack-running` LocalStackError.
   */
  dataDir: string | null;
  /** Who runs the stack, named to a second stack on the same data directory (`npm start`). */
  command?: string;
  /** Empties the DynamoDB and S3 data and resets the clock to the wall clock first. */
  fresh?: boolean;
  /**
   * The stack's clock runs this many times faster than the wall clock (default 1): timestamps,
   * the simulator, Wait states, Retry intervals and the schedule all run on it. Must be 1 with a
   * real provider.
   */
  speed?: number;
  /**
   * Where the stack's clock starts (ms since the epoch) instead of the wall clock's time; only
   * with `dataDir: null` (tests that count "today" start at noon UTC, far from midnight).
   */
  clockStartMs?: number;
  /** Port of the HTTP API; 0 or absent picks a free one. */
  apiPort?: number;
  /** Port of the web console; 0 or absent picks a free one. */
  consolePort?: number;
  /** Named API clients to create tokens for (besides the default and admin clients). */
  clients?: readonly string[];
  /**
   * Share settings of named clients (`--client-settings`), put beside their hashes in the tokens
   * secret; each name must be one of `clients`, and no cap above the stack's concurrency limit.
   */
  clientSettings?: Record<string, ClientShareSettings>;
  /** A real provider; absent, the simulator runs. */
  provider?: RealProvider;
  /** Simulator knobs (tests: rate limits, injected failures, ...); with a pool, for each one. */
  simulator?: Omit<SimulatorOptions, 'speed' | 'now' | 'apiKey' | 'port' | 'host' | 'journalFile'>;
  /**
   * A provider pool of simulators instead of one: each deployment is an independent simulator
   * (own port, knobs over `simulator`'s, jobs, stats and journal), and every /v1/videos model of
   * the catalogue lists them all as its `deployments`. Bedrock models stay on the first one.
   */
  simulatorPool?: readonly SimulatorPoolDeployment[];
  /** Extra CDK context for the synthesis, e.g. `{ 'limits:maxConcurrentJobs': '2' }`. */
  context?: Record<string, string>;
  /**
   * Each API client's request rate (`limits:clientRequestsPerWindow`,
   * `limits:clientRateWindowSeconds`), counted on the stack's clock; absent: cdk.json's context
   * or the default (client-rate-config.ts). `requestsPerWindow: 0` turns it off.
   */
  clientRate?: { requestsPerWindow: number; windowSeconds?: number };
  /**
   * Run the batch schedule on its timer (the rule's rate divided by `speed`); default true.
   * Tests turn it off and call `runScheduler()` when they want a run.
   */
  scheduleTimer?: boolean;
  /**
   * Run the scheduler once at start, before the API serves, so the jobs whose executions died
   * with the previous run (a crash, a stop) are resumed at once rather than at the schedule's
   * first run. Default: with a data directory (without one there is no previous run).
   */
  resumeAtStart?: boolean;
  /** POWERTOOLS_LOG_LEVEL of the handlers (default WARN: the CLI shows progress itself). */
  logLevel?: string;
  /** Told about each start-up step (the CLI prints them). */
  onStep?: (message: string) => void;
  /** Told about handler errors API Gateway would only log. */
  onFunctionError?: (source: string, error: LambdaFunctionError) => void;
  /** Told about each event the functions put on the event bus (job state changes). */
  onEvent?: (event: LocalBusEvent) => void;
}

/** The facts a client needs, written to `.local/stack.json` by `npm start`. */
export interface LocalStackInfo {
  apiUrl: string;
  /** Opens the web console signed in (the token is in the fragment, never sent to a server). */
  consoleUrl: string;
  /** The HTTP headers the default client adds to authenticate. */
  headers: Record<string, string>;
  /** The named clients (`admin` sees every job) and the headers each adds. */
  clients: Record<string, { headers: Record<string, string> }>;
  s3Endpoint: string;
  bucket: string;
  dynamodbEndpoint: string;
  table: string;
  providerBaseUrl: string;
  /** Bedrock Runtime's endpoint: the simulator's (absent with a real /v1/videos provider). */
  bedrockEndpoint?: string;
  stateMachineArn: string;
  /** Where dropped prompt files start jobs (bucket prefixes), and where their reports go. */
  dropFolders: { prefix: string; resultsPrefix: string }[];
  /** The batch schedule: its expression in the template and the local interval. */
  schedule?: { expression: string; intervalSeconds: number };
}

/** The limits and budget in force: what the functions read from their environment. */
export interface LocalStackLimits extends LimitsConfig {
  /** Each API client's request rate. */
  clientRate: ClientRateConfig;
}

export interface LocalStack extends LocalStackInfo {
  token: string;
  speed: number;
  limits: LocalStackLimits;
  /** The stack's (virtual) clock, ms since the epoch: `speed` times the wall clock. */
  clock: LocalClock;
  /** The provider simulator (a pool's first deployment), unless a real provider is configured. */
  simulator: RunningSimulator | undefined;
  /**
   * The simulators by deployment id: a `simulatorPool`'s, or `{ default: simulator }` (the id a
   * model without deployments is served by); empty with a real provider.
   */
  simulators: Record<string, RunningSimulator>;
  stepFunctions: LocalStepFunctions;
  s3: RunningS3Local;
  dynamoDb: RunningDynamoDbLocal;
  /** Runs the scheduler once, now (after a run in progress), and returns its summary. */
  runScheduler(): Promise<unknown>;
  /** Resolves when no S3 event delivery and no scheduler run is in flight. */
  whenEventsIdle(): Promise<void>;
  /**
   * The events put on the event bus so far (job state changes), oldest first; with a data
   * directory they are also appended to `<dataDir>/events.jsonl`.
   */
  busEvents(): LocalBusEvent[];
  info(): LocalStackInfo;
  stop(): Promise<void>;
}

/** The clock's position across restarts, in the data directory. */
const CLOCK_FILE = 'clock.json';
/** The built-in simulator's jobs, one JSON line per change, in the data directory. */
const SIMULATOR_FILE = 'simulator.jsonl';
/** The events put on the bus, one JSON line each, in the data directory. */
export const EVENTS_FILE = 'events.jsonl';

// Handler modules read their configuration once, at import: a second stack in the same process
// would run them against the first stack's endpoints.
let startedInThisProcess = false;

/**
 * Starts the whole pipeline on 127.0.0.1: DynamoDB Local, s3rver, the provider simulator (or a
 * real provider), the local Step Functions and Secrets Manager endpoint, the state machine and
 * HTTP API synthesized by CDK, and the production handlers in-process. Only endpoints and
 * credentials differ from AWS. On any failure everything already started is stopped again.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  if (startedInThisProcess) {
    throw new Error('A local stack was already started in this process; start one per process');
  }
  startedInThisProcess = true;
  const step = options.onStep ?? (() => {});
  const speed = options.speed ?? 1;
  assertSpeedForProvider(speed, options.provider !== undefined);
  if (options.provider && options.simulatorPool) {
    throw new Error('startLocalStack: provider and simulatorPool exclude each other');
  }
  const clientSettings = checkClientSettings(options.clientSettings ?? {}, options.clients ?? []);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  };
  const dataPath = (name: string) => (options.dataDir ? join(options.dataDir, name) : null);
  // A second stack on the same data is refused before anything starts; the lock is released last.
  const lock = options.dataDir
    ? await lockDataDir(options.dataDir, options.command ?? 'a local stack')
    : undefined;
  if (lock) stops.push(() => lock.release());
  try {
    // A taken API port is known before anything starts.
    if (options.apiPort) await assertPortFree(options.apiPort, 'HTTP API (--port)');
    if (options.consolePort) await assertPortFree(options.consolePort, 'web console');
    // Holding the lock, any DynamoDB Local on our files is an orphan: two on one file corrupt it.
    const dynamoDir = dataPath('dynamodb');
    if (dynamoDir) {
      for (const pid of await stopStaleDynamoDbLocal(dynamoDir)) {
        step(
          `stopped DynamoDB Local (pid ${pid}) left running on ${dynamoDir} by an earlier stack`,
        );
      }
    }
  } catch (error) {
    await stopAll();
    throw error;
  }

  // DynamoDB Local's JVM boots (2-3 s) while the CDK app synthesizes.
  if (options.fresh && options.dataDir) {
    await rm(join(options.dataDir, 'dynamodb'), { recursive: true, force: true });
    await rm(join(options.dataDir, 's3'), { recursive: true, force: true });
    await rm(join(options.dataDir, CLOCK_FILE), { force: true });
    await rm(join(options.dataDir, EVENTS_FILE), { force: true });
    await rm(join(options.dataDir, SIMULATOR_FILE), { force: true });
    for (const { id } of options.simulatorPool ?? []) {
      await rm(deploymentJournalFile(join(options.dataDir, SIMULATOR_FILE), id), { force: true });
    }
  }
  // One clock for everything on the stack, before anything records a time. A real provider
  // runs on the wall clock, and so must we (its timestamps are compared with ours).
  const clockFile = dataPath(CLOCK_FILE);
  if (options.clockStartMs !== undefined && (options.provider || clockFile)) {
    throw new LocalStackError(
      'invalid-option',
      'clockStartMs needs the simulator and dataDir: null (a real provider and saved data run on a clock that never goes back)',
    );
  }
  const clock = await startLocalClock({
    speed,
    file: options.provider ? null : clockFile,
    ...(options.clockStartMs === undefined ? {} : { startAtMs: options.clockStartMs }),
  });
  stops.push(() => clock.stop());
  if (options.provider && clockFile) {
    const ahead = await savedClockPosition(clockFile);
    if (ahead !== undefined && ahead > clock.nowMs()) {
      step(
        `note: data in ${options.dataDir} was written by an accelerated run up to ${new Date(ahead).toISOString()}; with a real provider the stack runs on the wall clock (--fresh starts clean)`,
      );
    }
  }
  step('starting DynamoDB Local');
  const dynamoStarting = startDynamoDbLocal({ dataDir: dataPath('dynamodb') });
  stops.push(() => dynamoStarting.then((dynamo) => dynamo.stop()));
  let dynamoFailure: unknown;
  dynamoStarting.catch((error: unknown) => {
    dynamoFailure = error;
  });
  // A missing java fails within an event-loop turn or two: report it before the slow synthesis.
  const failFast = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    if (dynamoFailure) throw dynamoFailure;
  };

  try {
    let simulator: RunningSimulator | undefined;
    let simulators: Record<string, RunningSimulator> = {};
    // The catalogue's `deployments` of every /v1/videos model, with a pool.
    let poolDeployments: SimulatedDeployment[] | undefined;
    let providerKey: string;
    let providerBaseUrl: string;
    if (options.provider) {
      providerKey = options.provider.apiKey;
      providerBaseUrl = options.provider.baseUrl;
    } else {
      providerKey = `sk-local-${randomBytes(12).toString('hex')}`;
      // The simulator runs on the stack's clock, at its own speed 1: the clock is the fast one.
      // Its jobs are kept in the data directory, so a restart finds the renders the pipeline
      // waits for where they were (the clock never goes back).
      const journalFile = dataPath(SIMULATOR_FILE);
      const shared = {
        ...options.simulator,
        speed: 1,
        now: clock.nowMs,
        // One key for every deployment: the provider secret holds it, as one key on AWS may.
        apiKey: providerKey,
        ...(journalFile ? { journalFile } : {}),
      };
      if (options.simulatorPool) {
        const pool = options.simulatorPool;
        step(`starting ${pool.length} provider simulators (${pool.map((d) => d.id).join(', ')})`);
        const running = await startSimulatorPool({
          ...shared,
          deployments: pool.map(({ id, knobs }) => ({ id, ...(knobs ? { knobs } : {}) })),
        });
        stops.push(() => running.close());
        simulators = { ...running.byId };
        simulator = running.get(pool[0]?.id ?? '');
        poolDeployments = pool.map((deployment) =>
          catalogueDeployment(deployment, running.get(deployment.id)),
        );
      } else {
        step('starting the provider simulator');
        const running = await startSimulator(shared);
        stops.push(() => running.close());
        simulator = running;
        // The id deployments.ts gives the one deployment of a model that lists none.
        simulators = { default: running };
      }
      providerBaseUrl = simulator.baseURL;
    }

    await failFast();
    step('synthesizing the CDK app');
    // The request allowance is counted per minute of the stack's clock: not scaled here.
    const context = {
      ...options.context,
      ...clientRateContext(options.clientRate),
      ...providerContext(providerBaseUrl, options.provider, options.context, poolDeployments),
    };
    // Deployments' own keys go into the provider key secret, not the template.
    const providerKeys = localProviderKeys(context['provider:models'], providerKey);
    if (providerKeys.models !== undefined) context['provider:models'] = providerKeys.models;
    const { templates, stacks } = await synthesize(context);
    const resolver = localResolver(templates.pipeline, stacks);
    const functions = localFunctions(templates.pipeline, resolver, HANDLER_MODULE_METADATA_KEY);
    const environment = functionEnvironment(functions);
    const table = required(environment, SETTING_VARIABLES.jobsTableName);
    const bucket = required(environment, SETTING_VARIABLES.videosBucketName);
    const stateMachineArn = required(environment, SETTING_VARIABLES.stateMachineArn);
    // The functions' own readers of their environment: what the banner shows is what they use.
    const limits: LocalStackLimits = {
      ...limitsConfigFromEnv(environment),
      clientRate: clientRateConfigFromEnv(environment),
    };
    checkCapsWithin(clientSettings, limits.maxConcurrentJobs);

    step('starting the S3 emulator');
    const s3 = await startS3Local({
      ...(options.dataDir ? { dataDir: join(options.dataDir, 's3') } : {}),
      buckets: [bucket],
    });
    stops.push(() => s3.stop());
    // The simulator writes Bedrock's output into this S3, as Bedrock writes into the bucket.
    for (const running of Object.values(simulators)) running.connectS3(s3.endpoint);

    const tokens = await localApiTokens(options.dataDir, options.clients ?? [], clientSettings);
    const { token } = tokens;
    const secrets = new LocalSecrets();
    secrets.putById(required(environment, SETTING_VARIABLES.providerSecretId), providerKeys.secret);
    secrets.putById(required(environment, SETTING_VARIABLES.apiTokensSecretId), tokens.secret);
    secrets.putById(
      required(environment, SETTING_VARIABLES.webhookSecretId),
      await localWebhookSigningSecret(options.dataDir),
    );
    const stepFunctions = new LocalStepFunctions();
    stops.push(() => stepFunctions.close());
    const eventBus = new LocalEventBus({
      file: dataPath(EVENTS_FILE),
      now: clock.nowMs,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    const awsEndpoint: RunningLocalAwsEndpoint = await startLocalAwsEndpoint({
      stepFunctions,
      secrets,
      eventBus,
    });
    stops.push(() => awsEndpoint.close());

    const dynamoDb = await dynamoStarting;
    // The jobs table exactly as the stateful stack's template declares it.
    await createTable(
      dynamoDb.endpoint,
      tableFromTemplate(templates.stateful, table, localResolver(templates.stateful, stacks).ref),
    );

    setProcessEnvironment({
      ...environment,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoDb.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SFN: awsEndpoint.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: awsEndpoint.url,
      ...(simulator ? { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: simulator.bedrockEndpoint } : {}),
      AWS_ENDPOINT_URL_EVENTBRIDGE: awsEndpoint.url,
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'WARN',
      // Webhook receivers on this machine (http://127.0.0.1:...); never set on AWS.
      [SETTING_VARIABLES.webhookAllowLoopback]: 'true',
    });

    // The handlers share one logger in this process; a module imported before the environment
    // was set (generate checks the request with the functions' own code) built it at INFO.
    const { logger } = await import('../../functions/shared/observability/observability.ts');
    logger.setLogLevel((options.logLevel ?? 'WARN') as Parameters<typeof logger.setLogLevel>[0]);
    // Concurrent invocations share that logger here, and overwrite each other's keys: the job
    // an invocation appends is also kept on the invocation (in-process-lambdas.ts), which the
    // terminal's log lines read.
    const appendKeys = logger.appendKeys.bind(logger);
    logger.appendKeys = (attributes) => {
      noteInvocationJobId(attributes.jobId);
      appendKeys(attributes);
    };

    const lambdas = new InProcessLambdas(functions, { projectRoot: PROJECT_ROOT });
    const invokeLambda = (name: string, payload: unknown) => lambdas.invoke(name, payload);
    for (const machine of stateMachinesFromTemplate(templates.pipeline, resolver)) {
      stepFunctions.addStateMachine(
        machine.logicalId,
        createStateMachineRunner(machine, { speed, clockRate: clock.rate, invokeLambda }),
      );
    }

    // S3 object events and the batch schedule invoke the same handlers, as in AWS.
    const notifications = bucketNotificationsFromTemplate(templates.pipeline, resolver);
    const schedules = schedulesFromTemplate(templates.pipeline);
    const eventSources = new LocalEventSources({
      invoke: invokeLambda,
      notifications,
      schedules,
      speed,
      timer: options.scheduleTimer ?? true,
      onError: (source, error) => options.onFunctionError?.(source, error),
    });
    s3.server.on('event', (event) => eventSources.s3Event(event));
    stops.push(() => eventSources.close());
    const [schedule] = schedules;
    if (schedule && (options.resumeAtStart ?? options.dataDir !== null)) {
      await resumeInterruptedJobs(() => eventSources.runSchedule(schedule), step);
    }

    step('starting the HTTP API');
    const httpApi = httpApiFromTemplate(templates.pipeline, resolver);
    let consoleOrigin: string | undefined;
    const gateway: RunningLocalApiGateway = await startLocalApiGateway({
      api: httpApi,
      invokeLambda,
      // On AWS the API allows the CloudFront origin of the console; here, the console's port.
      extraCorsOrigins: () => (consoleOrigin ? [consoleOrigin] : []),
      documents: { '/openapi.json': (apiUrl) => openApiDocument({ serverUrl: apiUrl }) },
      ...(options.apiPort ? { port: options.apiPort } : {}),
      onFunctionError: (source, result) => {
        if ('functionError' in result) options.onFunctionError?.(source, result.functionError);
      },
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        throw new LocalStackError(
          'port-in-use',
          `HTTP API: port ${options.apiPort} is already in use; pick another with --port`,
        );
      }
      throw error;
    });
    stops.push(() => gateway.close());
    await lock?.ready(gateway.url);

    step('starting the web console');
    const consoleServer: RunningConsoleServer = await startConsoleServer({
      config: consoleConfigDocument(
        gateway.url,
        environment,
        httpApi.routes.map((route) => route.routeKey),
      ),
      origins: { api: gateway.url, content: s3.endpoint },
      ...(options.consolePort ? { port: options.consolePort } : {}),
    });
    stops.push(() => consoleServer.close());
    consoleOrigin = consoleServer.url;

    const info = (): LocalStackInfo => ({
      apiUrl: gateway.url,
      consoleUrl: `${consoleServer.url}/#token=${encodeURIComponent(token)}`,
      headers: { Authorization: `Bearer ${token}` },
      clients: Object.fromEntries(
        Object.entries(tokens.clients).map(([name, clientToken]) => [
          name,
          { headers: { Authorization: `Bearer ${clientToken}` } },
        ]),
      ),
      s3Endpoint: s3.endpoint,
      bucket,
      dynamodbEndpoint: dynamoDb.endpoint,
      table,
      providerBaseUrl,
      ...(simulator ? { bedrockEndpoint: simulator.bedrockEndpoint } : {}),
      stateMachineArn,
      dropFolders: notifications
        .filter((notification) => notification.bucket === bucket && notification.prefix)
        .map((notification) => {
          const prefix = notification.prefix ?? '';
          const folder = DROP_FOLDERS.find((candidate) => candidate.prefix === prefix);
          return { prefix, resultsPrefix: folder?.resultsPrefix ?? '' };
        }),
      ...(schedule
        ? {
            schedule: {
              expression: schedule.expression,
              intervalSeconds: eventSources.intervalMs(schedule) / 1000,
            },
          }
        : {}),
    });
    return {
      ...info(),
      token,
      speed,
      limits,
      clock,
      simulator,
      simulators,
      stepFunctions,
      s3,
      dynamoDb,
      runScheduler: () => eventSources.runSchedule(),
      whenEventsIdle: () => eventSources.whenIdle(),
      busEvents: () => eventBus.events(),
      info,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Executions live in this process (LocalStepFunctions): none from a previous run survives it.
 * A job that run left in flight has no execution, and only the scheduler's sweep notices,
 * resuming it from its record (resume-job.ts: a new execution that polls and downloads, never
 * creates again). Its first run comes a schedule interval after the start (5 minutes at x1):
 * it runs now instead, the very run the schedule makes (its other work included: handing free
 * slots to waiting jobs). A QUEUED job whose execution had not reached the provider is left to
 * the sweep's usual grace, as on AWS.
 */
async function resumeInterruptedJobs(
  runScheduler: () => Promise<unknown>,
  step: (message: string) => void,
): Promise<void> {
  try {
    const summary = (await runScheduler()) as Partial<SchedulerSummary> | null;
    const resumed = summary?.resumed ?? [];
    if (resumed.length > 0) {
      const named = resumed.slice(0, 3).join(', ');
      const more = resumed.length > 3 ? ` and ${resumed.length - 3} more` : '';
      step(
        `resumed ${resumed.length === 1 ? 'the job' : `${resumed.length} jobs`} the last run left in flight: ${named}${more}`,
      );
    }
  } catch (error) {
    // The schedule's own runs try again later; the stack is usable meanwhile.
    step(`could not resume the jobs the last run left in flight: ${(error as Error).message}`);
  }
}

function providerContext(
  baseUrl: string,
  provider: RealProvider | undefined,
  given: Record<string, string> = {},
  poolDeployments?: SimulatedDeployment[],
): Record<string, string> {
  const context: Record<string, string> = { 'provider:baseUrl': baseUrl };
  if (provider?.model) context['provider:model'] = provider.model;
  if (provider?.models) context['provider:models'] = provider.models;
  if (provider?.timeoutMs) context['provider:timeoutMs'] = provider.timeoutMs;
  if (provider?.authHeader) context['provider:authHeader'] = provider.authHeader;
  if (!provider && given['provider:models'] === undefined) {
    context['provider:models'] = simulatorCatalogue();
  }
  // A test's own catalogue is served by the pool too, unless its models name their deployments.
  if (poolDeployments) {
    const catalogue = given['provider:models'] ?? simulatorCatalogue();
    context['provider:models'] = catalogueOnPool(catalogue, poolDeployments);
  }
  if (!provider) context['bedrock:region'] = LOCAL_REGION;
  return context;
}

/** A pool deployment as the catalogue lists it: the simulator's limits unless overridden. */
function catalogueDeployment(
  deployment: SimulatorPoolDeployment,
  simulator: RunningSimulator,
): SimulatedDeployment {
  const { maxConcurrent, requestsPerMinute, ...derived } = simulatedDeployment(
    deployment.id,
    simulator,
  );
  const declaredMax =
    deployment.maxConcurrent === undefined ? maxConcurrent : deployment.maxConcurrent;
  const declaredRate =
    deployment.requestsPerMinute === undefined ? requestsPerMinute : deployment.requestsPerMinute;
  return {
    ...derived,
    weight: deployment.weight ?? 1,
    ...(declaredMax == null ? {} : { maxConcurrent: declaredMax }),
    ...(declaredRate == null ? {} : { requestsPerMinute: declaredRate }),
  };
}

/** The context keys of the `clientRate` option (none: cdk.json's or the default rate). */
function clientRateContext(rate: LocalStackOptions['clientRate']): Record<string, string> {
  if (rate === undefined) return {};
  const context: Record<string, string> = {
    [CLIENT_RATE_CONTEXT_KEYS.requestsPerWindow]: String(rate.requestsPerWindow),
  };
  if (rate.windowSeconds !== undefined) {
    context[CLIENT_RATE_CONTEXT_KEYS.windowSeconds] = String(rate.windowSeconds);
  }
  return context;
}

/** Synthesizes without bundling into a throw-away directory. */
async function synthesize(context: Record<string, string>): Promise<SynthesizedPipeline> {
  const outdir = await mkdtemp(join(tmpdir(), 'sora-local-cdk-'));
  // CDK's deprecation notices are for the CDK app's authors, not for someone running it.
  process.env.JSII_DEPRECATED ??= 'quiet';
  try {
    return synthesizePipeline({ bundle: false, context, outdir });
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

/**
 * One process runs every function, so their environments are merged. They agree on every
 * shared name (the CDK construct sets them from the same resources); NODE_OPTIONS is the
 * runtime's business, not the handlers'.
 */
function functionEnvironment(functions: Map<string, LocalFunctionSpec>): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const spec of functions.values()) {
    for (const [name, value] of Object.entries(spec.environment)) {
      if (name === 'NODE_OPTIONS') continue;
      if (merged[name] !== undefined && merged[name] !== value) {
        throw new LocalStackError(
          'template-unsupported',
          `Functions disagree on ${name} ("${merged[name]}" vs "${value}"); the local stack runs them in one process`,
        );
      }
      merged[name] = value;
    }
  }
  return merged;
}

function required(environment: Record<string, string>, name: string): string {
  const value = environment[name];
  if (!value) {
    throw new LocalStackError('template-unsupported', `No function of the template sets ${name}`);
  }
  return value;
}

/**
 * The handlers' view of AWS: local endpoints, s3rver's credentials, one region, checksums only
 * when required (s3rver refuses the unsigned aws-chunked bodies with a checksum trailer that the
 * SDK streams otherwise). A developer's own AWS profile or session never reaches the handlers.
 */
function setProcessEnvironment(values: Record<string, string>): void {
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_DEFAULT_PROFILE']) {
    delete process.env[name];
  }
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...values,
  });
}

async function createTable(endpoint: string, table: LocalTable): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    await createLocalTable(client, table);
  } finally {
    client.destroy();
  }
}
