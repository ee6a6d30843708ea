import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { STATE_MACHINE_METADATA_KEY } from './constructs/generation-state-machine.ts';
import { HANDLER_MODULE_METADATA_KEY } from './constructs/pipeline-function.ts';
import { PipelineStack } from './stacks/pipeline-stack.ts';
import { StatefulStack } from './stacks/stateful-stack.ts';

/** Absolute path of the project root (where cdk.json and package-lock.json live). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const STATEFUL_STACK_ID = 'SoraPipelineStateful';
export const PIPELINE_STACK_ID = 'SoraPipeline';

export interface PipelineStacks {
  stateful: StatefulStack;
  pipeline: PipelineStack;
}

export interface BuildPipelineOptions {
  /** Bundle the handlers with esbuild. Off, functions get inline stubs (fast, no handler files needed). */
  bundle: boolean;
  /** Run cdk-nag's AwsSolutions pack at synthesis: an unacknowledged finding fails the synth. */
  nag?: boolean;
}

/** Adds both stacks of the pipeline to an app. */
export function buildPipeline(app: App, options: BuildPipelineOptions): PipelineStacks {
  const env = {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: process.env.CDK_DEFAULT_REGION,
  };
  const stateful = new StatefulStack(app, STATEFUL_STACK_ID, {
    env,
    description: 'sora-pipeline state: videos bucket, jobs table, secrets (retained)',
  });
  const pipeline = new PipelineStack(app, PIPELINE_STACK_ID, {
    env,
    description: 'sora-pipeline: functions, generation state machine, HTTP API',
    videosBucket: stateful.videosBucket,
    jobsTable: stateful.jobsTable,
    providerApiKeySecret: stateful.providerApiKeySecret,
    apiTokensSecret: stateful.apiTokensSecret,
    bundle: options.bundle,
    projectRoot: PROJECT_ROOT,
  });
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { stateful, pipeline };
}

/** The `context` of cdk.json (feature flags, provider settings), so in-process apps match `cdk synth`. */
export function projectContext(): Record<string, unknown> {
  const cdkJson: unknown = JSON.parse(
    readFileSync(new URL('../cdk.json', import.meta.url), 'utf8'),
  );
  if (typeof cdkJson === 'object' && cdkJson !== null && 'context' in cdkJson) {
    const { context } = cdkJson;
    if (typeof context === 'object' && context !== null) return { ...context };
  }
  return {};
}

/** Creates an app with the project's context plus `context` (e.g. provider settings). */
export function createPipelineApp(
  options: BuildPipelineOptions & {
    context?: Record<string, unknown>;
    outdir?: string;
    /** CDK's built-in CloudFormation template validation (slow: ~7 s). `cdk synth` runs it. */
    validateTemplates?: boolean;
  },
): { app: App } & PipelineStacks {
  const app = new App({
    context: { ...projectContext(), ...options.context },
    builtinCloudFormationValidation: options.validateTemplates ?? false,
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  return { app, ...buildPipeline(app, options) };
}

// --- What the local stack needs from the synthesized template ---------------------------------

export interface CfnTemplate {
  Resources?: Record<string, CfnResource>;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface PseudoParameters {
  partition: string;
  region: string;
  accountId: string;
}

export const LOCAL_PSEUDO_PARAMETERS: PseudoParameters = {
  partition: 'aws',
  region: 'us-east-1',
  accountId: '000000000000',
};

export interface PipelineFunctionInfo {
  /** Project-relative entry module exporting `handler`, e.g. functions/tasks/poll-provider-job.ts. */
  handlerModule: string;
  /** The ARN the resolved definition uses for this function (region/account from the pseudo parameters). */
  functionArn: string;
}

export interface PipelineDefinition {
  stateMachineLogicalId: string;
  /** The Amazon States Language definition, intrinsics resolved, ready for aws-local-stepfunctions. */
  definition: AslDefinition;
  /** Every function of the template that has a handler module, by CloudFormation logical id. */
  functions: Record<string, PipelineFunctionInfo>;
  /** Task state name -> the function it invokes (the key for aws-local-stepfunctions overrides). */
  tasks: Record<string, PipelineFunctionInfo & { logicalId: string }>;
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, Record<string, unknown>>;
  TimeoutSeconds?: number;
  [field: string]: unknown;
}

/**
 * Pulls the generation state machine out of a synthesized pipeline template: resolves the
 * `Fn::Join`/`Fn::GetAtt`/`Ref` pieces of its DefinitionString (each function's ARN becomes
 * `arn:<partition>:lambda:<region>:<account>:function:<logicalId>`) and maps every Lambda
 * logical id, and every Task state, to the handler module it runs.
 */
export function extractPipelineDefinition(
  template: CfnTemplate,
  pseudo: PseudoParameters = LOCAL_PSEUDO_PARAMETERS,
): PipelineDefinition {
  const resources = template.Resources ?? {};
  const functions: Record<string, PipelineFunctionInfo> = {};
  for (const [logicalId, resource] of Object.entries(resources)) {
    const handlerModule = resource.Metadata?.[HANDLER_MODULE_METADATA_KEY];
    if (resource.Type === 'AWS::Lambda::Function' && typeof handlerModule === 'string') {
      functions[logicalId] = { handlerModule, functionArn: lambdaArn(logicalId, pseudo) };
    }
  }

  const machines = Object.entries(resources).filter(
    ([, resource]) =>
      resource.Type === 'AWS::StepFunctions::StateMachine' &&
      resource.Metadata?.[STATE_MACHINE_METADATA_KEY] === 'generation',
  );
  const [machine, ...others] = machines;
  if (!machine || others.length > 0) {
    throw new Error(
      `Expected one generation state machine in the template, found ${machines.length}`,
    );
  }
  const [stateMachineLogicalId, stateMachineResource] = machine;
  const definitionString = resolveIntrinsics(
    stateMachineResource.Properties?.DefinitionString,
    resources,
    pseudo,
  );
  if (typeof definitionString !== 'string') {
    throw new Error(`${stateMachineLogicalId}: DefinitionString does not resolve to a string`);
  }
  const definition = JSON.parse(definitionString) as AslDefinition;

  const byArn = new Map(
    Object.entries(functions).map(([logicalId, info]) => [
      info.functionArn,
      { logicalId, ...info },
    ]),
  );
  const tasks: PipelineDefinition['tasks'] = {};
  for (const [stateName, state] of Object.entries(definition.States)) {
    if (state.Type !== 'Task') continue;
    const parameters = state.Parameters as Record<string, unknown> | undefined;
    const target = parameters?.FunctionName ?? state.Resource;
    const info = typeof target === 'string' ? byArn.get(target) : undefined;
    if (!info) throw new Error(`Task state ${stateName} invokes no known pipeline function`);
    tasks[stateName] = info;
  }
  return { stateMachineLogicalId, definition, functions, tasks };
}

function lambdaArn(logicalId: string, pseudo: PseudoParameters): string {
  return `arn:${pseudo.partition}:lambda:${pseudo.region}:${pseudo.accountId}:function:${logicalId}`;
}

function resolveIntrinsics(
  value: unknown,
  resources: Record<string, CfnResource>,
  pseudo: PseudoParameters,
): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, resources, pseudo));
  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first) {
    const [fn, args] = first;
    if (fn === 'Fn::Join') {
      const [separator, parts] = args as [string, unknown[]];
      return parts
        .map((part) => String(resolveIntrinsics(part, resources, pseudo)))
        .join(separator);
    }
    if (fn === 'Ref') return resolveRef(String(args), resources, pseudo);
    if (fn === 'Fn::GetAtt') {
      const [logicalId, attribute] = args as [string, string];
      if (attribute === 'Arn' && resources[logicalId]?.Type === 'AWS::Lambda::Function') {
        return lambdaArn(logicalId, pseudo);
      }
      throw new Error(`Cannot resolve Fn::GetAtt ${logicalId}.${attribute} locally`);
    }
    if (fn.startsWith('Fn::')) throw new Error(`Cannot resolve ${fn} locally`);
  }
  return Object.fromEntries(
    entries.map(([key, item]) => [key, resolveIntrinsics(item, resources, pseudo)]),
  );
}

function resolveRef(
  name: string,
  resources: Record<string, CfnResource>,
  pseudo: PseudoParameters,
): string {
  switch (name) {
    case 'AWS::Partition':
      return pseudo.partition;
    case 'AWS::Region':
      return pseudo.region;
    case 'AWS::AccountId':
      return pseudo.accountId;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    default:
      if (resources[name]?.Type === 'AWS::Lambda::Function') return name;
      throw new Error(`Cannot resolve Ref ${name} locally`);
  }
}

// --- One call for the local stack and tests ---------------------------------------------------

export interface SynthesizedPipeline extends PipelineDefinition {
  assembly: CloudAssembly;
  /** The synthesized CloudFormation templates. */
  templates: { stateful: CfnTemplate; pipeline: CfnTemplate };
}

export interface SynthesizePipelineOptions {
  /** Bundle the handlers with esbuild (slower). Default false: the local stack runs the sources. */
  bundle?: boolean;
  /** Extra CDK context, e.g. `{ 'provider:baseUrl': 'http://127.0.0.1:4010/v1' }`. */
  context?: Record<string, unknown>;
  /** Cloud assembly directory; default a fresh temporary directory. */
  outdir?: string;
  pseudo?: PseudoParameters;
}

/**
 * Synthesizes the CDK app in-process and returns the generation state machine's definition
 * with its Task -> handler module map: the same definition `cdk deploy` ships, for the local
 * stack to run.
 */
export function synthesizePipeline(options: SynthesizePipelineOptions = {}): SynthesizedPipeline {
  const { app, stateful, pipeline } = createPipelineApp({
    bundle: options.bundle ?? false,
    ...(options.context ? { context: options.context } : {}),
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  const assembly = app.synth();
  const templates = {
    stateful: assembly.getStackArtifact(stateful.artifactId).template as CfnTemplate,
    pipeline: assembly.getStackArtifact(pipeline.artifactId).template as CfnTemplate,
  };
  return {
    assembly,
    templates,
    ...extractPipelineDefinition(templates.pipeline, options.pseudo),
  };
}
