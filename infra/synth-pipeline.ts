import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { CfnTemplate } from './local/cfn-template.ts';
import { PROJECT_ROOT } from './project-root.ts';
import { PipelineStack } from './stacks/pipeline-stack.ts';
import { StatefulStack } from './stacks/stateful-stack.ts';

export { PROJECT_ROOT } from './project-root.ts';

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
    webhookSigningSecret: stateful.webhookSigningSecret,
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

// --- One call for the local stack and tests ---------------------------------------------------

export interface SynthesizedPipeline {
  assembly: CloudAssembly;
  /** The synthesized CloudFormation templates of the two stacks. */
  templates: { stateful: CfnTemplate; pipeline: CfnTemplate };
  /** Every stack's template by stack name: what cross-stack references (`localResolver`) look up. */
  stacks: Record<string, CfnTemplate>;
}

export interface SynthesizePipelineOptions {
  /** Bundle the handlers with esbuild (slower). Default false: the local stack runs the sources. */
  bundle?: boolean;
  /** Extra CDK context, e.g. `{ 'provider:baseUrl': 'http://127.0.0.1:4010/v1' }`. */
  context?: Record<string, unknown>;
  /** Cloud assembly directory; default a fresh temporary directory. */
  outdir?: string;
}

/**
 * Synthesizes the CDK app in-process and returns its templates: the same ones `cdk deploy`
 * ships, for the local stack (infra/local) to read.
 */
export function synthesizePipeline(options: SynthesizePipelineOptions = {}): SynthesizedPipeline {
  const { app, stateful, pipeline } = createPipelineApp({
    bundle: options.bundle ?? false,
    ...(options.context ? { context: options.context } : {}),
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  const assembly = app.synth();
  const stacks: Record<string, CfnTemplate> = {};
  for (const artifact of assembly.stacks)
    stacks[artifact.stackName] = asTemplate(artifact.template);
  return {
    assembly,
    templates: {
      stateful: asTemplate(assembly.getStackArtifact(stateful.artifactId).template),
      pipeline: asTemplate(assembly.getStackArtifact(pipeline.artifactId).template),
    },
    stacks,
  };
}

function asTemplate(template: unknown): CfnTemplate {
  const value = (template ?? {}) as Partial<CfnTemplate>;
  return { Resources: value.Resources ?? {}, ...(value.Outputs ? { Outputs: value.Outputs } : {}) };
}
