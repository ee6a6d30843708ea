import { existsSync } from 'node:fs';
import path from 'node:path';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_MAX_RETRIES } from '../../functions/shared/provider/provider-config.ts';
import { STATE_MACHINE_METADATA_KEY } from '../../infra/constructs/generation-state-machine.ts';
import {
  HANDLER_MODULES,
  type PipelineFunctionName,
  providerCallWorstCase,
} from '../../infra/stacks/pipeline-stack.ts';
import { createPipelineApp, PROJECT_ROOT } from '../../infra/synth-pipeline.ts';
import {
  functionLogicalId,
  synthesizeForTest,
  TEST_PROVIDER_CONTEXT,
} from './synthesized-pipeline.ts';

interface PolicyStatement {
  Action: string | string[];
  Effect: string;
  Resource: unknown;
}

const NAMES = Object.keys(HANDLER_MODULES) as PipelineFunctionName[];
/** The functions the generation state machine invokes. */
/** The functions that queue webhook deliveries (an event is recorded there). */
const WEBHOOK_NOTIFIERS: readonly PipelineFunctionName[] = [
  'api',
  'admitJob',
  'createProviderJob',
  'pollProviderJob',
  'downloadVideo',
  'recordFailure',
];
const TASK_NAMES = [
  'admitJob',
  'createProviderJob',
  'pollProviderJob',
  'downloadVideo',
  'recordFailure',
] as const satisfies readonly PipelineFunctionName[];

let template: Template;

beforeAll(() => {
  template = synthesizeForTest({
    'provider:model': 'sora-2-pro',
    logLevel: 'DEBUG',
  }).pipelineTemplate;
});

function functionOf(name: PipelineFunctionName) {
  const id = functionLogicalId(template, HANDLER_MODULES[name]);
  const resource = template.findResources('AWS::Lambda::Function')[id];
  if (!resource) throw new Error(`no function ${id}`);
  return { id, properties: resource.Properties };
}

function environmentOf(name: PipelineFunctionName): Record<string, unknown> {
  return functionOf(name).properties.Environment.Variables;
}

/** The policies attached to the function's role, by logical id. */
function policiesOf(name: PipelineFunctionName): [string, PolicyStatement[]][] {
  const roleId = functionOf(name).properties.Role['Fn::GetAtt'][0];
  return Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(([, policy]) =>
      policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId),
    )
    .map(([id, policy]) => [id, policy.Properties.PolicyDocument.Statement]);
}

/** Statements of the policies attached to the function's role. */
function statementsOf(name: PipelineFunctionName): PolicyStatement[] {
  return policiesOf(name).flatMap(([, statements]) => statements);
}

function generationStateMachineId(): string {
  const [id, ...others] = Object.entries(template.findResources('AWS::StepFunctions::StateMachine'))
    .filter(([, resource]) => resource.Metadata?.[STATE_MACHINE_METADATA_KEY] === 'generation')
    .map(([logicalId]) => logicalId);
  if (!id || others.length > 0) throw new Error('expected one generation state machine');
  return id;
}

function webhookStateMachineId(): string {
  const [id] = Object.entries(template.findResources('AWS::StepFunctions::StateMachine'))
    .filter(([, resource]) => resource.Metadata?.[STATE_MACHINE_METADATA_KEY] === 'webhook')
    .map(([logicalId]) => logicalId);
  if (!id) throw new Error('expected a webhook state machine');
  return id;
}

const actionsOf = (statement: PolicyStatement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

function servicesOf(name: PipelineFunctionName): string[] {
  const services = statementsOf(name).flatMap((s) => actionsOf(s).map((a) => a.split(':')[0] ?? a));
  return [...new Set(services)].sort();
}

const resourcesOf = (statement: PolicyStatement) =>
  (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).map((r) =>
    JSON.stringify(r),
  );

describe.each(NAMES)('the %s function', (name) => {
  it('runs Node.js 24 on arm64 with active tracing', () => {
    expect(functionOf(name).properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
    });
  });

  it('logs to its own log group with a retention', () => {
    const logGroupId = functionOf(name).properties.LoggingConfig.LogGroup.Ref;

    expect(template.findResources('AWS::Logs::LogGroup')[logGroupId]?.Properties).toEqual({
      RetentionInDays: 30,
    });
  });

  it('sets the Powertools service name and log level', () => {
    expect(environmentOf(name)).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'sora-pipeline',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    });
  });

  it('names its entry module, which exists', () => {
    const handlerModule = HANDLER_MODULES[name];

    expect(functionLogicalId(template, handlerModule)).toBe(functionOf(name).id);
    expect(existsSync(path.join(PROJECT_ROOT, handlerModule))).toBe(true);
  });

  it('has a role that may write only to its own log group', () => {
    const logGroupId = functionOf(name).properties.LoggingConfig.LogGroup.Ref;
    const logStatements = statementsOf(name).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('logs:')),
    );

    expect(logStatements).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
      },
    ]);
  });

  it("uses '*' only for X-Ray, which has no resource-level permissions", () => {
    const wildcard = statementsOf(name).filter((s) => resourcesOf(s).includes('"*"'));

    expect(wildcard.flatMap(actionsOf).sort()).toEqual([
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });

  it('has no managed policies', () => {
    const roleId = functionOf(name).properties.Role['Fn::GetAtt'][0];

    expect(template.findResources('AWS::IAM::Role')[roleId]?.Properties).not.toHaveProperty(
      'ManagedPolicyArns',
    );
  });
});

describe('per-function settings', () => {
  it.each([
    ['api', 15, 512],
    ['authorizer', 5, 256],
    ['createProviderJob', 900, 512],
    ['pollProviderJob', 256, 512],
    ['downloadVideo', 900, 1024],
    ['recordFailure', 30, 256],
    ['intake', 300, 512],
    ['scheduler', 300, 256],
  ] as const)('%s: timeout %i s, %i MB', (name, timeout, memory) => {
    expect(functionOf(name).properties).toMatchObject({ Timeout: timeout, MemorySize: memory });
  });

  it("gives poll the provider call's worst case (3 attempts of 60 s, 2 backoffs of 8 s) plus 60 s", () => {
    const worstCase = providerCallWorstCase(
      Number(environmentOf('pollProviderJob').PROVIDER_TIMEOUT_MS),
      DEFAULT_MAX_RETRIES,
    );

    expect(worstCase.toSeconds()).toBe(3 * 60 + 2 * 8);
    expect(functionOf('pollProviderJob').properties.Timeout).toBe(worstCase.toSeconds() + 60);
  });

  it("gives create Lambda's maximum, room for 4 worst-case provider calls and 60 s", () => {
    const worstCase = providerCallWorstCase(
      Number(environmentOf('createProviderJob').PROVIDER_TIMEOUT_MS),
      DEFAULT_MAX_RETRIES,
    );

    expect(functionOf('createProviderJob').properties.Timeout).toBe(15 * 60);
    expect(functionOf('createProviderJob').properties.Timeout).toBeGreaterThanOrEqual(
      4 * worstCase.toSeconds() + 60,
    );
  });

  it('gives the download more time than one worst-case provider call', () => {
    const worstCase = providerCallWorstCase(
      Number(environmentOf('downloadVideo').PROVIDER_TIMEOUT_MS),
      DEFAULT_MAX_RETRIES,
    );

    expect(functionOf('downloadVideo').properties.Timeout).toBeGreaterThan(worstCase.toSeconds());
  });
});

describe('environment (docs/architecture.md)', () => {
  const importOf = (exportSuffix: string) => ({
    'Fn::ImportValue': `SoraPipelineStateful-${exportSuffix}`,
  });

  // 'LIMITS' stands for the limits' variables (DAILY_BUDGET_USD only with a budget); 'EVENTS' for
  // JOB_EVENTS_BUS_NAME (every function that changes a job's status publishes its events).
  it.each([
    [
      'api',
      [
        'JOBS_TABLE_NAME',
        'VIDEOS_BUCKET_NAME',
        'STATE_MACHINE_ARN',
        'PROVIDER_SECRET_ID',
        'PROVIDER_BASE_URL',
        'LIMITS',
        'CLIENT_REQUESTS_PER_WINDOW',
        'CLIENT_RATE_WINDOW_SECONDS',
        'JOB_EVENTS_BUS_NAME',
        'WEBHOOK_STATE_MACHINE_ARN',
        'WEBHOOK_SECRET_ID',
      ],
    ],
    ['authorizer', ['API_TOKENS_SECRET_ID']],
    // Prices come from the catalogue (the provider settings); the provider is never called.
    [
      'admitJob',
      [
        'JOBS_TABLE_NAME',
        'PROVIDER_BASE_URL',
        'LIMITS',
        'JOB_EVENTS_BUS_NAME',
        'WEBHOOK_STATE_MACHINE_ARN',
      ],
    ],
    [
      'createProviderJob',
      [
        'JOBS_TABLE_NAME',
        'VIDEOS_BUCKET_NAME',
        'PROVIDER_SECRET_ID',
        'PROVIDER_BASE_URL',
        'LIMITS',
        'JOB_EVENTS_BUS_NAME',
        'WEBHOOK_STATE_MACHINE_ARN',
      ],
    ],
    [
      'pollProviderJob',
      [
        'JOBS_TABLE_NAME',
        'PROVIDER_SECRET_ID',
        'PROVIDER_BASE_URL',
        'LIMITS',
        'JOB_EVENTS_BUS_NAME',
        'WEBHOOK_STATE_MACHINE_ARN',
      ],
    ],
    [
      'downloadVideo',
      [
        'JOBS_TABLE_NAME',
        'VIDEOS_BUCKET_NAME',
        'PROVIDER_SECRET_ID',
        'PROVIDER_BASE_URL',
        'LIMITS',
        'JOB_EVENTS_BUS_NAME',
        'WEBHOOK_STATE_MACHINE_ARN',
      ],
    ],
    [
      'recordFailure',
      [
        'JOBS_TABLE_NAME',
        'PROVIDER_BASE_URL',
        'LIMITS',
        'JOB_EVENTS_BUS_NAME',
        'WEBHOOK_STATE_MACHINE_ARN',
      ],
    ],
    // No LIMITS: the workflow's AdmitJob step admits a dropped job, not the intake.
    [
      'intake',
      ['JOBS_TABLE_NAME', 'STATE_MACHINE_ARN', 'PROVIDER_BASE_URL', 'JOB_EVENTS_BUS_NAME'],
    ],
    [
      'scheduler',
      [
        'JOBS_TABLE_NAME',
        'STATE_MACHINE_ARN',
        'PROVIDER_BASE_URL',
        'LIMITS',
        'JOB_EVENTS_BUS_NAME',
        'WEBHOOK_STATE_MACHINE_ARN',
      ],
    ],
    ['deliverWebhook', ['JOBS_TABLE_NAME', 'WEBHOOK_SECRET_ID']],
  ] as const)('%s gets exactly the variables it uses', (name, expected) => {
    const common = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_LOG_LEVEL'];
    const provider = ['PROVIDER_MODEL', 'PROVIDER_TIMEOUT_MS'];
    const limits = ['MAX_CONCURRENT_JOBS', 'PROVIDER_REQUESTS_PER_MINUTE', 'OVER_BUDGET_ACTION'];
    const names = Object.keys(environmentOf(name));
    const wanted: string[] = [...common, ...expected.filter((entry) => entry !== 'LIMITS')];
    if (wanted.includes('PROVIDER_BASE_URL')) wanted.push(...provider);
    if ((expected as readonly string[]).includes('LIMITS')) wanted.push(...limits);

    expect(names.sort()).toEqual(wanted.sort());
  });

  it.each(TASK_NAMES)(
    '%s gets no STATE_MACHINE_ARN: the ARN comes in its payload ($$.StateMachine.Id)',
    (name) => {
      expect(environmentOf(name)).not.toHaveProperty('STATE_MACHINE_ARN');
    },
  );

  it.each(NAMES)('%s gets no MAX_SLOT_WAIT_MINUTES (the slot wait is gone)', (name) => {
    expect(environmentOf(name)).not.toHaveProperty('MAX_SLOT_WAIT_MINUTES');
  });

  it('points every function at the same stateful resources and state machine', () => {
    expect(environmentOf('api')).toMatchObject({
      JOBS_TABLE_NAME: importOf('JobsTableName'),
      VIDEOS_BUCKET_NAME: importOf('VideosBucketName'),
      STATE_MACHINE_ARN: { Ref: expect.stringMatching(/^GenerationStateMachine/) },
    });
    expect(environmentOf('downloadVideo')).toMatchObject({
      VIDEOS_BUCKET_NAME: importOf('VideosBucketName'),
      PROVIDER_SECRET_ID: importOf('ProviderApiKeySecretArn'),
    });
  });

  it('passes secrets by ARN, never by value', () => {
    expect(environmentOf('createProviderJob').PROVIDER_SECRET_ID).toEqual(
      importOf('ProviderApiKeySecretArn'),
    );
    expect(environmentOf('authorizer').API_TOKENS_SECRET_ID).toEqual(
      importOf('ApiTokensSecretArn'),
    );
  });

  it('takes the provider settings from CDK context', () => {
    expect(environmentOf('pollProviderJob')).toMatchObject({
      PROVIDER_BASE_URL: TEST_PROVIDER_CONTEXT['provider:baseUrl'],
      PROVIDER_MODEL: 'sora-2-pro',
      PROVIDER_TIMEOUT_MS: '60000',
    });
  });
});

describe('grants (least privilege)', () => {
  it.each([
    ['api', ['dynamodb', 'events', 'logs', 's3', 'secretsmanager', 'states', 'xray']],
    ['authorizer', ['logs', 'secretsmanager', 'xray']],
    ['admitJob', ['dynamodb', 'events', 'logs', 'states', 'xray']],
    ['createProviderJob', ['dynamodb', 'events', 'logs', 's3', 'secretsmanager', 'states', 'xray']],
    ['pollProviderJob', ['dynamodb', 'events', 'logs', 'secretsmanager', 'states', 'xray']],
    ['downloadVideo', ['dynamodb', 'events', 'logs', 's3', 'secretsmanager', 'states', 'xray']],
    ['recordFailure', ['dynamodb', 'events', 'logs', 'states', 'xray']],
    // sqs: SendMessage to the dead letters (on-failure destination of the async invocation).
    ['intake', ['dynamodb', 'events', 'logs', 's3', 'sqs', 'states', 'xray']],
    ['scheduler', ['dynamodb', 'events', 'logs', 'sqs', 'states', 'xray']],
    ['deliverWebhook', ['dynamodb', 'logs', 'secretsmanager', 'xray']],
  ] as const)('%s may call only %j', (name, services) => {
    expect(servicesOf(name)).toEqual(services);
  });

  it('lets only the api and the scheduler (lists by status) query the table indexes', () => {
    const indexGrantees = NAMES.filter((name) =>
      statementsOf(name).some((s) => resourcesOf(s).some((r) => r.includes('/index/*'))),
    );

    expect(indexGrantees).toEqual(['api', 'scheduler']);
  });

  // A hand-off reads the head of a client's queue on the byQueue index (functions/shared/admission).
  it.each(TASK_NAMES)('lets %s query the byQueue index by name, and no other index', (name) => {
    const queried = statementsOf(name)
      .filter((s) => actionsOf(s).includes('dynamodb:Query'))
      .flatMap(resourcesOf);

    expect(queried).toEqual([
      expect.stringMatching(
        /:table\/",\{"Fn::ImportValue":"SoraPipelineStateful-JobsTableName"\},"\/index\/byQueue"\]\]\}$/,
      ),
    ]);
  });

  it('lets no function that hands nothing on query an index (the intake, the authorizer, webhooks)', () => {
    const querying = NAMES.filter((name) =>
      statementsOf(name).some((s) => actionsOf(s).includes('dynamodb:Query')),
    );

    expect(querying.sort()).toEqual([...TASK_NAMES, 'api', 'scheduler'].sort());
  });

  it('lets the api read objects under videos/ and uploads/, put under uploads/, and nothing else', () => {
    const s3 = statementsOf('api').filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    const grants = s3.flatMap((s) =>
      actionsOf(s).flatMap((action) =>
        resourcesOf(s).map((resource) => {
          const prefix = /\/(videos|uploads)\/\*"\]\]\}$/.exec(resource)?.[1];
          return `${action} ${prefix ?? resource}`;
        }),
      ),
    );

    expect(grants.sort()).toEqual([
      's3:GetObject uploads',
      's3:GetObject videos',
      's3:PutObject uploads',
    ]);
  });

  it('lets the download read, write and abort uploads under videos/ only, and never delete', () => {
    const s3 = statementsOf('downloadVideo').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('s3:')),
    );

    expect(s3.flatMap(actionsOf).sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:GetObject',
      's3:PutObject',
    ]);
    expect(s3.flatMap(resourcesOf)).toEqual([expect.stringMatching(/\/videos\/\*"\]\]\}$/)]);
  });

  it('lets the intake read the drop folders and write only their reports', () => {
    const s3 = statementsOf('intake').filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    const byAction = Object.fromEntries(
      s3.map((s) => [
        actionsOf(s).join(),
        resourcesOf(s)
          .map((r) => r.replace(/^.*\/(\w[\w-]*)\/\*"\]\]\}$/, '$1'))
          .sort(),
      ]),
    );

    expect(byAction).toEqual({
      's3:GetObject': ['batches', 'inbox'],
      's3:PutObject': ['batches-results', 'inbox-results'],
    });
  });

  it.each(NAMES)('lets %s send only the DynamoDB actions the job store sends', (name) => {
    const actions = statementsOf(name)
      .flatMap(actionsOf)
      .filter((a) => a.startsWith('dynamodb:'));

    for (const action of actions) {
      expect([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:Query',
      ]).toContain(action);
    }
  });

  it('lets the api UpdateItem on the jobs table, where its client request counters live', () => {
    const updates = statementsOf('api').filter((s) => actionsOf(s).includes('dynamodb:UpdateItem'));

    expect(updates.flatMap(resourcesOf)).toContainEqual(
      expect.stringMatching(
        /:table\/",\{"Fn::ImportValue":"SoraPipelineStateful-JobsTableName"\}\]\]\}$/,
      ),
    );
  });

  it('reads secrets with GetSecretValue only', () => {
    const actions = NAMES.flatMap(statementsOf)
      .flatMap(actionsOf)
      .filter((a) => a.startsWith('secretsmanager:'));

    expect(new Set(actions)).toEqual(new Set(['secretsmanager:GetSecretValue']));
  });

  it('lets the api start executions of the generation and webhook state machines, and stop (cancel) only the generation executions', () => {
    const statements = statementsOf('api').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('states:')),
    );

    expect(statements).toEqual([
      {
        Action: 'states:StartExecution',
        Effect: 'Allow',
        Resource: [{ Ref: generationStateMachineId() }, { Ref: webhookStateMachineId() }],
      },
      {
        Action: 'states:StopExecution',
        Effect: 'Allow',
        Resource: expect.anything(),
      },
    ]);
    expect(JSON.stringify(statements[1])).toContain(':execution:');
  });

  it.each(TASK_NAMES)(
    'lets %s start executions of the generation state machine (its ARN, not *) and queue webhooks, nothing else',
    (name) => {
      const statements = statementsOf(name).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('states:')),
      );
      const startGeneration = {
        Action: 'states:StartExecution',
        Effect: 'Allow',
        Resource: { Ref: generationStateMachineId() },
      };
      const queueWebhooks = { ...startGeneration, Resource: { Ref: webhookStateMachineId() } };

      expect(statements).toEqual(
        WEBHOOK_NOTIFIERS.includes(name) ? [queueWebhooks, startGeneration] : [startGeneration],
      );
    },
  );

  it.each(TASK_NAMES)(
    'grants %s StartExecution of the generation machine in a StartsExecutions policy of its own, not the default policy',
    (name) => {
      const granting = policiesOf(name)
        .filter(([, statements]) =>
          statements.some(
            (s) =>
              actionsOf(s).includes('states:StartExecution') &&
              JSON.stringify(s.Resource).includes(generationStateMachineId()),
          ),
        )
        .map(([id]) => id);

      expect(granting).toEqual([expect.stringMatching(/StartsExecutions/)]);
      expect(granting[0]).not.toMatch(/DefaultPolicy/);
    },
  );

  it.each(TASK_NAMES)(
    'keeps the %s function independent of the state machine that invokes it (no cycle)',
    (name) => {
      const { id } = functionOf(name);
      const resource = template.findResources('AWS::Lambda::Function')[id];
      const startsExecutions = policiesOf(name)
        .map(([policyId]) => policyId)
        .filter((policyId) => policyId.includes('StartsExecutions'));

      expect(startsExecutions).toHaveLength(1);
      expect(resource?.DependsOn ?? []).not.toEqual(expect.arrayContaining(startsExecutions));
      expect(JSON.stringify(resource?.Properties)).not.toContain(generationStateMachineId());
    },
  );

  it('lets createProviderJob read reference images under uploads/ and nothing else in S3', () => {
    const s3 = statementsOf('createProviderJob').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('s3:')),
    );

    expect(s3.map(actionsOf)).toEqual([['s3:GetObject']]);
    expect(JSON.stringify(s3.map(resourcesOf))).toContain('/uploads/*');
  });

  it('lets the authorizer read the API tokens secret and not the provider key', () => {
    const secretResources = statementsOf('authorizer')
      .filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')))
      .flatMap(resourcesOf);

    expect(secretResources).toEqual([
      JSON.stringify({ 'Fn::ImportValue': 'SoraPipelineStateful-ApiTokensSecretArn' }),
    ]);
  });

  it("has no '*' resource in any policy except for X-Ray and CloudWatch Logs delivery", () => {
    const allowed =
      /^(xray:|logs:(Create|Delete|Describe|Get|List|Put|Update)(LogDelivery|LogDeliveries|LogGroups|ResourcePolicy|ResourcePolicies))/;
    const offending = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[])
      .filter((s) => resourcesOf(s).includes('"*"'))
      .flatMap(actionsOf)
      .filter((action) => !allowed.test(action));

    expect(offending).toEqual([]);
  });
});

describe('provider context', () => {
  it('fails synthesis naming the context keys when the base URL is not a URL', () => {
    expect(() =>
      createPipelineApp({ bundle: false, context: { 'provider:baseUrl': 'not a url' } }),
    ).toThrow(/provider:baseUrl.*PROVIDER_BASE_URL|PROVIDER_BASE_URL.*provider:baseUrl/s);
  });

  it('fails synthesis when the model catalogue does not list the default model', () => {
    const models = {
      'veo-3': {
        sizes: ['1280x720'],
        seconds: ['8'],
        defaultSize: '1280x720',
        defaultSeconds: '8',
        pricePerSecondUsd: 0.4,
      },
    };

    expect(() =>
      createPipelineApp({
        bundle: false,
        context: { ...TEST_PROVIDER_CONTEXT, 'provider:models': models },
      }),
    ).toThrow(/sora-2/);
  });

  it('passes a catalogue from cdk.json (an object) to the functions as JSON', () => {
    const models = {
      'veo-3': {
        sizes: ['1280x720'],
        seconds: ['8'],
        defaultSize: '1280x720',
        defaultSeconds: '8',
        pricePerSecondUsd: 0.4,
      },
    };
    const { pipelineTemplate } = synthesizeForTest({
      'provider:model': 'veo-3',
      'provider:models': models,
    });

    pipelineTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: { PROVIDER_MODEL: 'veo-3', PROVIDER_MODELS: JSON.stringify(models) },
      },
    });
  });

  describe('with deployments', () => {
    const sora2 = {
      sizes: ['1280x720'],
      seconds: ['4'],
      defaultSize: '1280x720',
      defaultSeconds: '4',
      pricePerSecondUsd: 0.1,
    };
    const eastus = { id: 'eastus', baseUrl: 'https://eastus.example.test/openai/v1' };
    const catalogue = (deployments: unknown[]) => ({ 'sora-2': { ...sora2, deployments } });
    const synthWith = (models: unknown, context: Record<string, unknown> = TEST_PROVIDER_CONTEXT) =>
      createPipelineApp({
        bundle: false,
        context: { ...context, 'provider:model': 'sora-2', 'provider:models': models },
      });

    it('fails synthesis naming the bad field of a deployment and the context key', () => {
      const models = catalogue([eastus, { id: 'westus', baseUrl: 'westus.example.test' }]);

      expect(() => synthWith(models)).toThrow(
        'models.sora-2.deployments[1].baseUrl (context provider:models, PROVIDER_MODELS) must be an http(s) URL',
      );
    });

    it("refuses a deployment's apiKey: on AWS keys live in the provider key secret", () => {
      const models = catalogue([{ ...eastus, apiKey: 'sk-must-not-reach-the-template' }]);

      let message = '';
      try {
        synthWith(models);
      } catch (error) {
        message = (error as Error).message;
      }

      expect(message).toContain(
        'models.sora-2.deployments[0].apiKey (context provider:models, PROVIDER_MODELS) is for the local stack only',
      );
      expect(message).not.toContain('sk-must-not-reach-the-template');
    });

    it('does not warn about the base URL when every /v1/videos model lists its deployments', () => {
      const { pipeline } = synthWith(catalogue([eastus]), {});

      Annotations.fromStack(pipeline).hasNoWarning('*', Match.stringLikeRegexp('provider:baseUrl'));
    });
  });

  // 4 worst-case calls of 3 attempts and 2 backoffs of 8 s, plus 60 s, within 900 s: a timeout
  // of up to 64,666 ms fits.
  it.each(['65000', '90000'])(
    'fails synthesis when 4 worst-case provider calls at provider:timeoutMs %s outlast the 15-minute create',
    (timeoutMs) => {
      expect(() =>
        createPipelineApp({
          bundle: false,
          context: { ...TEST_PROVIDER_CONTEXT, 'provider:timeoutMs': timeoutMs },
        }),
      ).toThrow(
        `provider:timeoutMs (${timeoutMs}) is too long: 4 provider calls with retries must fit the create function's 15-minute timeout`,
      );
    },
  );

  it("sizes the poll function's timeout from provider:timeoutMs (the longest that fits: 64000)", () => {
    const { pipelineTemplate } = synthesizeForTest({ 'provider:timeoutMs': '64000' });
    const pollId = functionLogicalId(pipelineTemplate, HANDLER_MODULES.pollProviderJob);
    const poll = pipelineTemplate.findResources('AWS::Lambda::Function')[pollId];

    expect(poll?.Properties.Timeout).toBe(3 * 64 + 2 * 8 + 60);
  });

  it('warns when the base URL is left at the shut-down OpenAI endpoint', () => {
    // CDK also prints the warning; caught here so a green run prints nothing.
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const { pipeline } = createPipelineApp({ bundle: false });

      Annotations.fromStack(pipeline).hasWarning(
        '/SoraPipeline',
        Match.stringLikeRegexp('provider:baseUrl is not set.*shut down'),
      );
      expect(printed).toHaveBeenCalledWith(expect.stringMatching(/provider:baseUrl is not set/));
    } finally {
      printed.mockRestore();
    }
  });

  it('does not warn once a base URL is configured', () => {
    const { pipeline } = createPipelineApp({ bundle: false, context: TEST_PROVIDER_CONTEXT });

    Annotations.fromStack(pipeline).hasNoWarning('*', Match.stringLikeRegexp('provider:baseUrl'));
  });
});
