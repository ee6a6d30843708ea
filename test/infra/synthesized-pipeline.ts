/**
 * Shared by the infra suites: synthesizes the CDK app once per suite without bundling (fast,
 * no handler files needed) and reads the generation state machine's definition.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { HANDLER_MODULE_METADATA_KEY } from '../../infra/constructs/pipeline-function.ts';
import { createPipelineApp } from '../../infra/synth-pipeline.ts';

/** A provider base URL, so suites do not carry the "OpenAI default" warning. */
export const TEST_PROVIDER_CONTEXT = { 'provider:baseUrl': 'https://videos.example.test/v1' };

export function synthesizeForTest(context: Record<string, unknown> = {}) {
  const built = createPipelineApp({
    bundle: false,
    context: { ...TEST_PROVIDER_CONTEXT, ...context },
  });
  return {
    ...built,
    pipelineTemplate: Template.fromStack(built.pipeline),
    statefulTemplate: Template.fromStack(built.stateful),
  };
}

export interface AslState {
  Type: string;
  [field: string]: unknown;
}

export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}

export interface Catcher {
  ErrorEquals: string[];
  ResultPath?: string | null;
  Next: string;
}

export interface Asl {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  [field: string]: unknown;
}

/**
 * The state machine's DefinitionString with its Fn::Join resolved: function ARNs
 * (`Fn::GetAtt [id, Arn]`) become `<id>`, the partition `aws`.
 */
export function definitionOf(template: Template): Asl {
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  const [machine] = machines;
  if (!machine || machines.length !== 1) throw new Error('expected one state machine');
  return JSON.parse(joinPieces(machine.Properties.DefinitionString)) as Asl;
}

function joinPieces(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, unknown>;
  const join = node['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(joinPieces).join(join[0]);
  const getAtt = node['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `<${getAtt[0]}>`;
  if (node.Ref === 'AWS::Partition') return 'aws';
  throw new Error(`unexpected piece in DefinitionString: ${JSON.stringify(value)}`);
}

/** Logical id of the Lambda function whose handler-module metadata is `handlerModule`. */
export function functionLogicalId(template: Template, handlerModule: string): string {
  const matches = Object.entries(template.findResources('AWS::Lambda::Function')).filter(
    ([, resource]) => resource.Metadata?.[HANDLER_MODULE_METADATA_KEY] === handlerModule,
  );
  const [match] = matches;
  if (!match || matches.length !== 1) throw new Error(`no single function runs ${handlerModule}`);
  return match[0];
}
