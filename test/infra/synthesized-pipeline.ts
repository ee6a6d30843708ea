/**
 * Shared by the infra suites: synthesizes the CDK app once per context without bundling (fast,
 * no handler files needed) and reads the generation state machine's definition.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { STATE_MACHINE_METADATA_KEY } from '../../infra/constructs/generation-state-machine.ts';
import { HANDLER_MODULE_METADATA_KEY } from '../../infra/constructs/pipeline-function.ts';
import { createPipelineApp } from '../../infra/synth-pipeline.ts';

/** A provider base URL, so suites do not carry the "OpenAI default" warning. */
export const TEST_PROVIDER_CONTEXT = { 'provider:baseUrl': 'https://videos.example.test/v1' };

function synthesize(context: Record<string, unknown>) {
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

/**
 * Each context is synthesized once per worker (the infra files share a module graph): a dozen
 * suites read the default templates, and a synth costs 0.3-0.8 CPU-seconds. The apps must
 * therefore only be read: a suite that adds to a stack builds its own with createPipelineApp.
 */
const synthesized = new Map<string, ReturnType<typeof synthesize>>();

export function synthesizeForTest(context: Record<string, unknown> = {}) {
  const key = JSON.stringify(Object.entries(context).sort(([a], [b]) => a.localeCompare(b)));
  let result = synthesized.get(key);
  if (result === undefined) {
    result = synthesize(context);
    synthesized.set(key, result);
  }
  return result;
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
 * The generation state machine's DefinitionString with its Fn::Join resolved: function ARNs
 * (`Fn::GetAtt [id, Arn]`) become `<id>`, the partition `aws`.
 */
export function definitionOf(template: Template): Asl {
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).filter(
    (resource) => resource.Metadata?.[STATE_MACHINE_METADATA_KEY] === 'generation',
  );
  const [machine] = machines;
  if (!machine || machines.length !== 1) throw new Error('expected one generation state machine');
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

/** A Choice rule (JSONPath): a comparison on `Variable`, or And / Or / Not of rules. */
export interface ChoiceRule {
  Variable?: string;
  And?: ChoiceRule[];
  Or?: ChoiceRule[];
  Not?: ChoiceRule;
  Next?: string;
  [comparison: string]: unknown;
}

/** Every state a state can hand over to: Next, Default, each Choice rule's and Catch's Next. */
export function nextStatesOf(state: AslState): string[] {
  const targets = [state.Next, state.Default];
  for (const rule of (state.Choices ?? []) as ChoiceRule[]) targets.push(rule.Next);
  for (const catcher of (state.Catch ?? []) as Catcher[]) targets.push(catcher.Next);
  return [...new Set(targets.filter((target): target is string => typeof target === 'string'))];
}

/**
 * Where a Choice state sends `input`, by its rules as Step Functions evaluates them (the first
 * matching rule, else Default). Only the comparisons the generation machine uses are known;
 * anything else, or a variable missing from `input`, throws rather than guesses.
 */
export function choiceTarget(state: AslState, input: unknown): string {
  if (state.Type !== 'Choice') throw new Error(`not a Choice state: ${state.Type}`);
  const matched = ((state.Choices ?? []) as ChoiceRule[]).find((rule) => matches(rule, input));
  const target = matched?.Next ?? state.Default;
  if (typeof target !== 'string') throw new Error('no rule matched and no Default');
  return target;
}

function matches(rule: ChoiceRule, input: unknown): boolean {
  if (rule.And) return rule.And.every((inner) => matches(inner, input));
  if (rule.Or) return rule.Or.some((inner) => matches(inner, input));
  if (rule.Not) return !matches(rule.Not, input);
  if (rule.Variable === undefined)
    throw new Error(`rule without Variable: ${JSON.stringify(rule)}`);
  const value = readPath(rule.Variable, input);
  const [comparison, ...others] = Object.keys(rule).filter(
    (key) => key !== 'Variable' && key !== 'Next',
  );
  if (comparison === undefined || others.length > 0) {
    throw new Error(`expected one comparison in ${JSON.stringify(rule)}`);
  }
  const expected = rule[comparison];
  switch (comparison) {
    case 'StringEquals':
      return value === expected;
    case 'BooleanEquals':
      return value === expected;
    case 'NumericEquals':
      return typeof value === 'number' && value === expected;
    case 'NumericLessThan':
      return typeof value === 'number' && value < (expected as number);
    case 'NumericLessThanEquals':
      return typeof value === 'number' && value <= (expected as number);
    case 'NumericGreaterThan':
      return typeof value === 'number' && value > (expected as number);
    case 'NumericGreaterThanEquals':
      return typeof value === 'number' && value >= (expected as number);
    default:
      throw new Error(`comparison ${comparison} is not modelled`);
  }
}

function readPath(path: string, input: unknown): unknown {
  if (!/^\$(\.\w+)+$/.test(path)) throw new Error(`path ${path} is not modelled`);
  let value: unknown = input;
  for (const field of path.split('.').slice(1)) {
    if (value === null || typeof value !== 'object' || !(field in value)) {
      throw new Error(`${path} is missing from ${JSON.stringify(input)}`);
    }
    value = (value as Record<string, unknown>)[field];
  }
  return value;
}
