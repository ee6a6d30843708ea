import './handler-defaults.ts';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientShareSettings } from '../../functions/shared/admission/client-share.ts';
import { hostFunctions } from '../../functions/shared/config/function-environment.ts';
import { SETTING_VARIABLES } from '../../functions/shared/config/plain-config.ts';
import type { ClientRateConfig } from '../../functions/shared/limits/client-rate-config.ts';
import type { LimitsConfig } from '../../functions/shared/limits/limits-config.ts';
import type { SchedulerSummary } from '../../functions/shared/scheduler/run-scheduler.ts';
import { HANDLER_MODULE_METADATA_KEY } from '../constructs/handler-metadata.ts';
import { PROJECT_ROOT } from '../project-root.ts';
import type { RunningConsoleServer } from './console-server.ts';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { startDynamoDbLocal, stopStaleDynamoDbLocal } from './dynamodb-local.ts';
import {
  type LambdaFunctionError,
  type LambdaInvokeResult,
  noteInvocationJobId,
} from './in-process-lambdas.ts';
import {
  type RunningServices,
  type ServiceSpec,
  ServiceStartError,
  type Started,
  services,
  startServices,
} from './lifecycle.ts';
import type { RunningLocalApiGateway } from './local-api-gateway.ts';
import type { localApiTokens } from './local-api-tokens.ts';
import type { RunningLocalAwsEndpoint } from './local-aws-endpoint.ts';
import { checkClientSettings } from './local-client-settings.ts';
import {
  assertSpeedForProvider,
  type LocalClock,
  savedClockPosition,
  startLocalClock,
} from './local-clock.ts';
import { LocalStackError } from './local-errors.ts';
import type { LocalBusEvent, LocalEventBus } from './local-event-bus.ts';
import type { LocalEventSources } from './local-event-sources.ts';
import { LOCAL_REGION } from './local-ids.ts';
import type { LocalFunctionSpec, localResolver } from './local-resources.ts';
import type { LocalStepFunctions } from './local-step-functions.ts';
import type { LocalTable } from './local-tables.ts';
import type { bucketNotificationsFromTemplate, schedulesFromTemplate } from './local-triggers.ts';
import { assertPortFree } from './ports.ts';
import type { RunningS3Local } from './s3-local.ts';
import type { SimulatedDeployment, SimulatorDeployment } from './simulator/pool.ts';
import type { RunningSimulator, SimulatorOptions } from './simulator/simulator.ts';
import { cachedTemplates, defaultTemplateCacheDir, type LocalTemplates } from './template-cache.ts';

/** The modules the services run, loaded by the `parts` service. */
type StackParts = typeof import('./stack-parts.ts');

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
  /**
   * A DynamoDB endpoint already running (a DynamoDB Local) instead of the stack's own JVM, only
   * with `dataDir: null`: the stack makes its jobs table there under a name of its own (the
   * template's, after a random prefix) and deletes it when it stops, so stacks can share one.
   * The tests share one this way: a JVM costs 2-4 CPU-seconds a stack.
   */
  dynamoDbEndpoint?: string;
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
   * first run. Default: with a data directory whose jobs table already existed (without one, or
   * with a new table, there is no previous run).
   */
  resumeAtStart?: boolean;
  /** POWERTOOLS_LOG_LEVEL of the handlers (default WARN: the CLI shows progress itself). */
  logLevel?: string;
  /**
   * Read the synthesized templates from the cache when the sources are unchanged (default true;
   * template-cache.ts). False synthesizes the CDK app every time.
   */
  templateCache?: boolean;
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
  dynamoDb: StackDynamoDb;
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

/** The DynamoDB the stack uses: its own DynamoDB Local, or the `dynamoDbEndpoint` it was given. */
export interface StackDynamoDb {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** The stack's own java process; undefined with `dynamoDbEndpoint`. */
  pid: number | undefined;
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

/** The provider the functions call: a real one, or the simulators this stack runs. */
interface ProviderService {
  /** The key in the provider secret (the simulators' own key, or the real provider's). */
  key: string;
  baseUrl: string;
  simulator: RunningSimulator | undefined;
  simulators: Record<string, RunningSimulator>;
  /** The catalogue's `deployments` of every /v1/videos model, with a pool. */
  poolDeployments: SimulatedDeployment[] | undefined;
}

/** What the synthesized templates say the stack is made of. */
interface TemplateService {
  templates: LocalTemplates['templates'];
  resolver: ReturnType<typeof localResolver>;
  /** Names of the stateful stack's resources (the jobs table's). */
  statefulRef: (logicalId: string) => string;
  functions: Map<string, LocalFunctionSpec>;
  /** The functions' merged environment, as CDK set it. */
  environment: Record<string, string>;
  /** The provider secret's value (the deployments' own keys included). */
  providerSecret: string;
  table: string;
  bucket: string;
  stateMachineArn: string;
  limits: LocalStackLimits;
}

/** The stack's AWS emulation beside DynamoDB and S3: Step Functions, Secrets Manager, events. */
interface AwsService {
  stepFunctions: LocalStepFunctions;
  eventBus: LocalEventBus;
  endpoint: RunningLocalAwsEndpoint;
  tokens: Awaited<ReturnType<typeof localApiTokens>>;
}

interface EventsService {
  sources: LocalEventSources;
  notifications: ReturnType<typeof bucketNotificationsFromTemplate>;
  schedule: ReturnType<typeof schedulesFromTemplate>[number] | undefined;
}

/** Every service of the stack by name, and the handle it gives the services that need it. */
interface StackServices {
  /** The data directory, locked for this stack (checks done, `--fresh` applied). */
  dataDir: { lock: DataDirLock | undefined };
  /** The modules the other services run (stack-parts.ts), loaded in parallel with the rest. */
  parts: StackParts;
  clock: LocalClock;
  /** DynamoDB Local launched, not yet answering (or the endpoint the stack was given). */
  dynamoDbBooting: { ready: Promise<StackDynamoDb> };
  dynamoDb: StackDynamoDb;
  provider: ProviderService;
  templates: TemplateService;
  /** The jobs table, created as the stateful template declares it (or found, with kept data). */
  table: { name: string; created: boolean };
  s3: RunningS3Local;
  aws: AwsService;
  /** Invokes the template's functions in this process. */
  lambdas: (name: string, payload: unknown) => Promise<LambdaInvokeResult>;
  events: EventsService;
  api: { gateway: RunningLocalApiGateway; routes: string[] };
  console: RunningConsoleServer;
}

/**
 * Starts the whole pipeline on 127.0.0.1: DynamoDB Local, s3rver, the provider simulator (or a
 * real provider), the local Step Functions and Secrets Manager endpoint, the state machine and
 * HTTP API synthesized by CDK, and the production handlers in-process. Only endpoints and
 * credentials differ from AWS. The services are listed in `stackServices` with what each needs,
 * and started by the lifecycle runner: independent ones together (DynamoDB Local's JVM boots
 * while the templates are synthesized or read from the cache). On any failure everything
 * already started is stopped again.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  if (startedInThisProcess) {
    throw new Error('A local stack was already started in this process; start one per process');
  }
  const speed = options.speed ?? 1;
  assertSpeedForProvider(speed, options.provider !== undefined);
  if (options.provider && options.simulatorPool) {
    throw new Error('startLocalStack: provider and simulatorPool exclude each other');
  }
  if (options.dynamoDbEndpoint !== undefined && options.dataDir) {
    throw new LocalStackError(
      'invalid-option',
      'dynamoDbEndpoint needs dataDir: null (a data directory keeps its tables in its own DynamoDB Local)',
    );
  }
  if (options.clockStartMs !== undefined && (options.provider || options.dataDir)) {
    throw new LocalStackError(
      'invalid-option',
      'clockStartMs needs the simulator and dataDir: null (a real provider and saved data run on a clock that never goes back)',
    );
  }
  const clientSettings = checkClientSettings(options.clientSettings ?? {}, options.clients ?? []);
  // Options refused above leave the process free to start a stack.
  startedInThisProcess = true;
  let running: RunningServices<StackServices>;
  try {
    running = await startServices(stackServices(options, speed, clientSettings));
  } catch (error) {
    // A problem the user can fix already names its service (`port-in-use`, `java-missing`).
    if (error instanceof ServiceStartError && error.cause instanceof LocalStackError) {
      throw error.cause;
    }
    throw error;
  }
  const { handles } = running;
  const { gateway } = handles.api;
  const { tokens } = handles.aws;
  const { templates, provider, events } = handles;
  const info = (): LocalStackInfo => ({
    apiUrl: gateway.url,
    consoleUrl: `${handles.console.url}/#token=${encodeURIComponent(tokens.token)}`,
    headers: { Authorization: `Bearer ${tokens.token}` },
    clients: Object.fromEntries(
      Object.entries(tokens.clients).map(([name, clientToken]) => [
        name,
        { headers: { Authorization: `Bearer ${clientToken}` } },
      ]),
    ),
    s3Endpoint: handles.s3.endpoint,
    bucket: templates.bucket,
    dynamodbEndpoint: handles.dynamoDb.endpoint,
    table: templates.table,
    providerBaseUrl: provider.baseUrl,
    ...(provider.simulator ? { bedrockEndpoint: provider.simulator.bedrockEndpoint } : {}),
    stateMachineArn: templates.stateMachineArn,
    dropFolders: events.notifications
      .filter((notification) => notification.bucket === templates.bucket && notification.prefix)
      .map((notification) => {
        const prefix = notification.prefix ?? '';
        const folder = handles.parts.DROP_FOLDERS.find((candidate) => candidate.prefix === prefix);
        return { prefix, resultsPrefix: folder?.resultsPrefix ?? '' };
      }),
    ...(events.schedule
      ? {
          schedule: {
            expression: events.schedule.expression,
            intervalSeconds: events.sources.intervalMs(events.schedule) / 1000,
          },
        }
      : {}),
  });
  return {
    ...info(),
    token: tokens.token,
    speed,
    limits: templates.limits,
    clock: handles.clock,
    simulator: provider.simulator,
    simulators: provider.simulators,
    stepFunctions: handles.aws.stepFunctions,
    s3: handles.s3,
    dynamoDb: handles.dynamoDb,
    runScheduler: () => events.sources.runSchedule(),
    whenEventsIdle: () => events.sources.whenIdle(),
    busEvents: () => handles.aws.eventBus.events(),
    info,
    stop: running.stop,
  };
}

/** The stack's services: what each needs, how it starts and stops. */
function stackServices(
  options: LocalStackOptions,
  speed: number,
  clientSettings: Record<string, ClientShareSettings>,
): ServiceSpec<StackServices>[] {
  const step = options.onStep ?? (() => {});
  const dataPath = (name: string) => (options.dataDir ? join(options.dataDir, name) : null);
  const service = services<StackServices>();
  let consoleOrigin: string | undefined;
  // A DynamoDB shared with other stacks holds each one's tables under a prefix of its own.
  const tablePrefix = options.dynamoDbEndpoint
    ? `stack-${randomBytes(4).toString('hex')}-`
    : undefined;
  return [
    service({
      name: 'dataDir',
      start: async () => {
        // A second stack on the same data is refused before anything starts; released last.
        const lock = options.dataDir
          ? await lockDataDir(options.dataDir, options.command ?? 'a local stack')
          : undefined;
        try {
          await prepareDataDir(options, step);
        } catch (error) {
          await lock?.release();
          throw error;
        }
        return { handle: { lock }, ...(lock ? { stop: () => lock.release() } : {}) };
      },
    }),
    service({
      name: 'clock',
      needs: ['dataDir'],
      // One clock for everything on the stack, before anything records a time.
      start: async () => {
        const clock = await startStackClock(options, speed, dataPath(CLOCK_FILE), step);
        return { handle: clock, stop: () => clock.stop() };
      },
    }),
    service({
      name: 'dynamoDbBooting',
      needs: ['dataDir'],
      start: async () => {
        if (options.dynamoDbEndpoint) {
          const given = { endpoint: options.dynamoDbEndpoint, pid: undefined };
          return { handle: { ready: Promise.resolve(given) } };
        }
        step('starting DynamoDB Local');
        let spawned: () => void = () => {};
        const launched = new Promise<void>((resolve) => {
          spawned = resolve;
        });
        const ready = startDynamoDbLocal({ dataDir: dataPath('dynamodb'), onSpawned: spawned });
        // Up once java is launched (or failed to): its 2-3 s boot overlaps the other starts.
        await Promise.race([launched, ready]);
        return {
          handle: { ready },
          stop: () =>
            ready.then(
              (dynamoDb) => dynamoDb.stop(),
              () => {},
            ),
        };
      },
    }),
    service({
      name: 'dynamoDb',
      needs: ['dynamoDbBooting'],
      start: async ({ dynamoDbBooting }) => ({ handle: await dynamoDbBooting.ready }),
    }),
    service({
      name: 'parts',
      // Most of the stack's code loads while DynamoDB Local's JVM boots, not before it starts
      // (loading blocks this thread for a few hundred ms).
      needs: ['dynamoDbBooting'],
      start: async () => ({ handle: await import('./stack-parts.ts') }),
    }),
    service({
      name: 'provider',
      needs: ['clock', 'parts'],
      start: ({ clock, parts }) =>
        startProvider(parts, options, clock, dataPath(SIMULATOR_FILE), step),
    }),
    service({
      name: 'templates',
      needs: ['provider', 'parts'],
      start: async ({ provider, parts }) => ({
        handle: await stackTemplates(parts, options, provider, clientSettings, tablePrefix, step),
      }),
    }),
    service({
      name: 'table',
      needs: ['dynamoDb', 'templates', 'parts'],
      start: async ({ dynamoDb, templates, parts }) => {
        // The jobs table exactly as the stateful stack's template declares it.
        const { created } = await createTable(
          parts,
          dynamoDb.endpoint,
          parts.tableFromTemplate(
            templates.templates.stateful,
            templates.table,
            templates.statefulRef,
          ),
        );
        return {
          handle: { name: templates.table, created },
          // A shared DynamoDB keeps no table of a stack that stopped; our own JVM ends with it.
          ...(options.dynamoDbEndpoint
            ? { stop: () => deleteTable(parts, dynamoDb.endpoint, templates.table) }
            : {}),
        };
      },
    }),
    service({
      name: 's3',
      needs: ['dataDir', 'templates', 'provider', 'parts'],
      start: async ({ templates, provider, parts }) => {
        step('starting the S3 emulator');
        const s3 = await parts.startS3Local({
          ...(options.dataDir ? { dataDir: join(options.dataDir, 's3') } : {}),
          buckets: [templates.bucket],
        });
        // The simulator writes Bedrock's output into this S3, as Bedrock writes into the bucket.
        for (const simulator of Object.values(provider.simulators))
          simulator.connectS3(s3.endpoint);
        return { handle: s3, stop: () => s3.stop() };
      },
    }),
    service({
      name: 'aws',
      needs: ['clock', 'templates', 'parts'],
      start: async ({ clock, templates, parts }) => {
        const { environment } = templates;
        const tokens = await parts.localApiTokens(
          options.dataDir,
          options.clients ?? [],
          clientSettings,
        );
        const secrets = new parts.LocalSecrets();
        secrets.putById(
          required(environment, SETTING_VARIABLES.providerSecretId),
          templates.providerSecret,
        );
        secrets.putById(required(environment, SETTING_VARIABLES.apiTokensSecretId), tokens.secret);
        secrets.putById(
          required(environment, SETTING_VARIABLES.webhookSecretId),
          await parts.localWebhookSigningSecret(options.dataDir),
        );
        const stepFunctions = new parts.LocalStepFunctions();
        const eventBus = new parts.LocalEventBus({
          file: dataPath(EVENTS_FILE),
          now: clock.nowMs,
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        });
        const endpoint = await parts
          .startLocalAwsEndpoint({ stepFunctions, secrets, eventBus })
          .catch(async (error: unknown) => {
            await stepFunctions.close();
            throw error;
          });
        return {
          handle: { stepFunctions, eventBus, endpoint, tokens },
          stop: async () => {
            await endpoint.close();
            await stepFunctions.close();
          },
        };
      },
    }),
    service({
      name: 'lambdas',
      // Not the table: nothing is invoked before the event sources and the API start.
      needs: ['templates', 's3', 'aws', 'dynamoDb', 'provider', 'clock', 'parts'],
      start: async ({ templates, s3, aws, dynamoDb, provider, clock, parts }) => {
        const logLevel = options.logLevel ?? 'WARN';
        await useHandlerEnvironment(
          {
            ...templates.environment,
            AWS_ENDPOINT_URL_DYNAMODB: dynamoDb.endpoint,
            AWS_ENDPOINT_URL_S3: s3.endpoint,
            AWS_ENDPOINT_URL_SFN: aws.endpoint.url,
            AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint.url,
            ...(provider.simulator
              ? { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: provider.simulator.bedrockEndpoint }
              : {}),
            AWS_ENDPOINT_URL_EVENTBRIDGE: aws.endpoint.url,
            POWERTOOLS_LOG_LEVEL: logLevel,
            // Webhook receivers on this machine (http://127.0.0.1:...); never set on AWS.
            [SETTING_VARIABLES.webhookAllowLoopback]: 'true',
          },
          logLevel,
        );
        const lambdas = new parts.InProcessLambdas(templates.functions, {
          projectRoot: PROJECT_ROOT,
        });
        const invokeLambda = (name: string, payload: unknown) => lambdas.invoke(name, payload);
        const machines = parts.stateMachinesFromTemplate(
          templates.templates.pipeline,
          templates.resolver,
        );
        for (const machine of machines) {
          aws.stepFunctions.addStateMachine(
            machine.logicalId,
            parts.createStateMachineRunner(machine, {
              speed,
              clockRate: clock.rate,
              invokeLambda,
              // Checked when synthesized (stackTemplates), before the templates were cached.
              validate: false,
            }),
          );
        }
        return { handle: invokeLambda };
      },
    }),
    service({
      name: 'events',
      needs: ['lambdas', 'table', 'templates', 's3', 'parts'],
      start: async ({ lambdas, table, templates, s3, parts }) => {
        // S3 object events and the batch schedule invoke the same handlers, as in AWS.
        const { pipeline } = templates.templates;
        const notifications = parts.bucketNotificationsFromTemplate(pipeline, templates.resolver);
        const schedules = parts.schedulesFromTemplate(pipeline);
        const sources = new parts.LocalEventSources({
          invoke: lambdas,
          notifications,
          schedules,
          speed,
          timer: options.scheduleTimer ?? true,
          onError: (source, error) => options.onFunctionError?.(source, error),
        });
        s3.server.on('event', (event) => sources.s3Event(event));
        const [schedule] = schedules;
        // A table just created holds no job a previous run left in flight.
        const resume = options.resumeAtStart ?? (options.dataDir !== null && !table.created);
        if (schedule && resume) {
          await resumeInterruptedJobs(() => sources.runSchedule(schedule), step);
        }
        return {
          handle: { sources, notifications, schedule },
          stop: () => sources.close(),
        };
      },
    }),
    service({
      name: 'api',
      // The jobs a previous run left in flight are resumed before the API serves.
      needs: ['lambdas', 'events', 'templates', 'dataDir', 'parts'],
      start: async ({ lambdas, templates, dataDir, parts }) => {
        step('starting the HTTP API');
        const httpApi = parts.httpApiFromTemplate(templates.templates.pipeline, templates.resolver);
        const gateway = await parts
          .startLocalApiGateway({
            api: httpApi,
            invokeLambda: lambdas,
            // On AWS the API allows the CloudFront origin of the console; here, the console's port.
            extraCorsOrigins: () => (consoleOrigin ? [consoleOrigin] : []),
            documents: {
              '/openapi.json': (apiUrl) => parts.openApiDocument({ serverUrl: apiUrl }),
            },
            ...(options.apiPort ? { port: options.apiPort } : {}),
            onFunctionError: (source, result) => {
              if ('functionError' in result)
                options.onFunctionError?.(source, result.functionError);
            },
          })
          .catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'EADDRINUSE') {
              throw new LocalStackError(
                'port-in-use',
                `HTTP API: port ${options.apiPort} is already in use; pick another with --port`,
              );
            }
            throw error;
          });
        await dataDir.lock?.ready(gateway.url);
        return {
          handle: { gateway, routes: httpApi.routes.map((route) => route.routeKey) },
          stop: () => gateway.close(),
        };
      },
    }),
    service({
      name: 'console',
      needs: ['api', 'templates', 's3', 'parts'],
      start: async ({ api, templates, s3, parts }) => {
        step('starting the web console');
        const consoleServer = await parts.startConsoleServer({
          config: parts.consoleConfigDocument(api.gateway.url, templates.environment, api.routes),
          origins: { api: api.gateway.url, content: s3.endpoint },
          ...(options.consolePort ? { port: options.consolePort } : {}),
        });
        consoleOrigin = consoleServer.url;
        return { handle: consoleServer, stop: () => consoleServer.close() };
      },
    }),
  ];
}

/**
 * The checks made before anything starts, holding the data directory's lock: taken ports, a
 * DynamoDB Local an earlier stack left on our files (two on one file corrupt it), and `--fresh`.
 */
async function prepareDataDir(
  options: LocalStackOptions,
  step: (message: string) => void,
): Promise<void> {
  if (options.apiPort) await assertPortFree(options.apiPort, 'HTTP API (--port)');
  if (options.consolePort) await assertPortFree(options.consolePort, 'web console');
  if (!options.dataDir) return;
  const dynamoDir = join(options.dataDir, 'dynamodb');
  for (const pid of await stopStaleDynamoDbLocal(dynamoDir)) {
    step(`stopped DynamoDB Local (pid ${pid}) left running on ${dynamoDir} by an earlier stack`);
  }
  if (options.fresh) {
    for (const name of ['dynamodb', 's3', CLOCK_FILE, EVENTS_FILE, SIMULATOR_FILE]) {
      await rm(join(options.dataDir, name), { recursive: true, force: true });
    }
    const { deploymentJournalFile } = await import('./simulator/pool.ts');
    for (const { id } of options.simulatorPool ?? []) {
      await rm(deploymentJournalFile(join(options.dataDir, SIMULATOR_FILE), id), { force: true });
    }
  }
}

/** The stack's one clock. A real provider runs on the wall clock, and so must we. */
async function startStackClock(
  options: LocalStackOptions,
  speed: number,
  clockFile: string | null,
  step: (message: string) => void,
): Promise<LocalClock> {
  const clock = await startLocalClock({
    speed,
    file: options.provider ? null : clockFile,
    ...(options.clockStartMs === undefined ? {} : { startAtMs: options.clockStartMs }),
  });
  if (options.provider && clockFile) {
    const ahead = await savedClockPosition(clockFile);
    if (ahead !== undefined && ahead > clock.nowMs()) {
      step(
        `note: data in ${options.dataDir} was written by an accelerated run up to ${new Date(ahead).toISOString()}; with a real provider the stack runs on the wall clock (--fresh starts clean)`,
      );
    }
  }
  return clock;
}

/** The real provider, or the simulators (one, or a pool) on the stack's clock. */
async function startProvider(
  parts: StackParts,
  options: LocalStackOptions,
  clock: LocalClock,
  journalFile: string | null,
  step: (message: string) => void,
): Promise<Started<ProviderService>> {
  if (options.provider) {
    const { apiKey, baseUrl } = options.provider;
    return {
      handle: {
        key: apiKey,
        baseUrl,
        simulator: undefined,
        simulators: {},
        poolDeployments: undefined,
      },
    };
  }
  const key = `sk-local-${randomBytes(12).toString('hex')}`;
  // The simulator runs on the stack's clock, at its own speed 1: the clock is the fast one.
  // Its jobs are kept in the data directory, so a restart finds the renders the pipeline
  // waits for where they were (the clock never goes back).
  const shared = {
    ...options.simulator,
    speed: 1,
    now: clock.nowMs,
    // One key for every deployment: the provider secret holds it, as one key on AWS may.
    apiKey: key,
    ...(journalFile ? { journalFile } : {}),
  };
  if (options.simulatorPool) {
    const pool = options.simulatorPool;
    step(`starting ${pool.length} provider simulators (${pool.map((d) => d.id).join(', ')})`);
    const running = await parts.startSimulatorPool({
      ...shared,
      deployments: pool.map(({ id, knobs }) => ({ id, ...(knobs ? { knobs } : {}) })),
    });
    const simulator = running.get(pool[0]?.id ?? '');
    return {
      handle: {
        key,
        baseUrl: simulator.baseURL,
        simulator,
        simulators: { ...running.byId },
        poolDeployments: pool.map((deployment) =>
          catalogueDeployment(parts, deployment, running.get(deployment.id)),
        ),
      },
      stop: () => running.close(),
    };
  }
  step('starting the provider simulator');
  const simulator = await parts.startSimulator(shared);
  return {
    handle: {
      key,
      baseUrl: simulator.baseURL,
      simulator,
      // The id deployments.ts gives the one deployment of a model that lists none.
      simulators: { default: simulator },
      poolDeployments: undefined,
    },
    stop: () => simulator.close(),
  };
}

/** The templates of the CDK app for this stack's provider and options, and what they say. */
async function stackTemplates(
  parts: StackParts,
  options: LocalStackOptions,
  provider: ProviderService,
  clientSettings: Record<string, ClientShareSettings>,
  tablePrefix: string | undefined,
  step: (message: string) => void,
): Promise<TemplateService> {
  // The request allowance is counted per minute of the stack's clock: not scaled here.
  const context = {
    ...options.context,
    ...clientRateContext(parts, options.clientRate),
    ...providerContext(
      parts,
      provider.baseUrl,
      options.provider,
      options.context,
      provider.poolDeployments,
    ),
  };
  // Deployments' own keys go into the provider key secret, not the template.
  const providerKeys = parts.localProviderKeys(context['provider:models'], provider.key);
  if (providerKeys.models !== undefined) context['provider:models'] = providerKeys.models;
  const { templates, stacks, cached } = await cachedTemplates({
    projectRoot: PROJECT_ROOT,
    cacheDir: options.templateCache === false ? null : defaultTemplateCacheDir(PROJECT_ROOT),
    context,
    // The simulators' addresses change with every start; the template is the same.
    volatile: Object.values(provider.simulators).flatMap((simulator) => [
      new URL(simulator.baseURL).origin,
      simulator.bedrockEndpoint,
    ]),
    synthesize: async (placeholderContext) => {
      step('synthesizing the CDK app');
      const synthesized = await synthesize(placeholderContext);
      // Only templates whose state machines the interpreter accepts are cached: a start from
      // the cache then skips the check (half a second of compiling the validator's schemas).
      const { pipeline } = synthesized.templates;
      for (const machine of parts.stateMachinesFromTemplate(
        pipeline,
        parts.localResolver(pipeline, synthesized.stacks),
      )) {
        parts.validateStateMachine(machine);
      }
      return synthesized;
    },
  });
  if (cached) step('read the synthesized templates from the cache (sources unchanged)');
  const names = tablePrefix ? { tablePrefix } : {};
  const resolver = parts.localResolver(templates.pipeline, stacks, names);
  const functions = parts.localFunctions(templates.pipeline, resolver, HANDLER_MODULE_METADATA_KEY);
  const environment = functionEnvironment(functions);
  // The functions' own readers of their environment: what the banner shows is what they use.
  const limits: LocalStackLimits = {
    ...parts.limitsConfigFromEnv(environment),
    clientRate: parts.clientRateConfigFromEnv(environment),
  };
  parts.checkCapsWithin(clientSettings, limits.maxConcurrentJobs);
  return {
    templates,
    resolver,
    statefulRef: parts.localResolver(templates.stateful, stacks, names).ref,
    functions,
    environment,
    providerSecret: providerKeys.secret,
    table: required(environment, SETTING_VARIABLES.jobsTableName),
    bucket: required(environment, SETTING_VARIABLES.videosBucketName),
    stateMachineArn: required(environment, SETTING_VARIABLES.stateMachineArn),
    limits,
  };
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
  parts: StackParts,
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
    context['provider:models'] = parts.simulatorCatalogue();
  }
  // A test's own catalogue is served by the pool too, unless its models name their deployments.
  if (poolDeployments) {
    const catalogue = given['provider:models'] ?? parts.simulatorCatalogue();
    context['provider:models'] = parts.catalogueOnPool(catalogue, poolDeployments);
  }
  if (!provider) context['bedrock:region'] = LOCAL_REGION;
  return context;
}

/** A pool deployment as the catalogue lists it: the simulator's limits unless overridden. */
function catalogueDeployment(
  parts: StackParts,
  deployment: SimulatorPoolDeployment,
  simulator: RunningSimulator,
): SimulatedDeployment {
  const { maxConcurrent, requestsPerMinute, ...derived } = parts.simulatedDeployment(
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
function clientRateContext(
  parts: StackParts,
  rate: LocalStackOptions['clientRate'],
): Record<string, string> {
  if (rate === undefined) return {};
  const context: Record<string, string> = {
    [parts.CLIENT_RATE_CONTEXT_KEYS.requestsPerWindow]: String(rate.requestsPerWindow),
  };
  if (rate.windowSeconds !== undefined) {
    context[parts.CLIENT_RATE_CONTEXT_KEYS.windowSeconds] = String(rate.windowSeconds);
  }
  return context;
}

/**
 * Synthesizes without bundling into a throw-away directory. aws-cdk-lib is loaded here, only
 * when the template cache has no entry for these sources.
 */
async function synthesize(context: Record<string, string>): Promise<LocalTemplates> {
  const { synthesizePipeline } = await import('../synth-pipeline.ts');
  const outdir = await mkdtemp(join(tmpdir(), 'sora-local-cdk-'));
  // CDK's deprecation notices are for the CDK app's authors, not for someone running it.
  process.env.JSII_DEPRECATED ??= 'quiet';
  try {
    const { templates, stacks } = synthesizePipeline({ bundle: false, context, outdir });
    return { templates, stacks };
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
 * SDK streams otherwise). Handed to the functions (function-environment.ts), never written into
 * process.env: a developer's own AWS profile or session is neither read by the handlers nor
 * changed for anything else in this process.
 */
async function useHandlerEnvironment(values: Record<string, string>, logLevel: string) {
  hostFunctions({
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
  // The handlers share one logger in this process; a module imported before the environment
  // was set (generate checks the request with the functions' own code) built it at INFO.
  const { logger } = await import('../../functions/shared/observability/observability.ts');
  logger.setLogLevel(logLevel as Parameters<typeof logger.setLogLevel>[0]);
  // Concurrent invocations share that logger here, and overwrite each other's keys: the job
  // an invocation appends is also kept on the invocation (in-process-lambdas.ts), which the
  // terminal's log lines read.
  const appendKeys = logger.appendKeys.bind(logger);
  logger.appendKeys = (attributes) => {
    noteInvocationJobId(attributes.jobId);
    appendKeys(attributes);
  };
}

async function createTable(
  parts: StackParts,
  endpoint: string,
  table: LocalTable,
): Promise<{ created: boolean }> {
  return withTableClient(parts, endpoint, (client) => parts.createLocalTable(client, table));
}

async function deleteTable(parts: StackParts, endpoint: string, tableName: string): Promise<void> {
  await withTableClient(parts, endpoint, (client) => parts.deleteLocalTable(client, tableName));
}

async function withTableClient<T>(
  parts: StackParts,
  endpoint: string,
  use: (client: InstanceType<StackParts['DynamoDBClient']>) => Promise<T>,
): Promise<T> {
  const client = new parts.DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}
