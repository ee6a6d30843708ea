import {
  type CfnTemplate,
  type IntrinsicResolver,
  resolveIntrinsics,
  resolveString,
  resourcesOfType,
  unsupported,
} from './cfn-template.ts';
import { parseReferencePath } from './json-path.ts';

/** An Amazon States Language state, loosely typed: the interpreter validates the details. */
export interface AslState {
  Type: string;
  [field: string]: unknown;
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  [field: string]: unknown;
}

export interface LocalStateMachine {
  logicalId: string;
  definition: AslDefinition;
}

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_ARN = /^arn:aws[\w-]*:lambda:/;

/**
 * The state machines of a synthesized template, their DefinitionString resolved to the ASL the
 * local interpreter runs (function ARNs become local ARNs naming the function's logical id).
 * Features the interpreter cannot run faithfully are refused here, naming the state.
 */
export function stateMachinesFromTemplate(
  template: CfnTemplate,
  resolver: IntrinsicResolver,
): LocalStateMachine[] {
  return resourcesOfType(template, 'AWS::StepFunctions::StateMachine').map(
    ([logicalId, resource]) => {
      const properties = resource.Properties ?? {};
      let text: string;
      if (properties.DefinitionString !== undefined) {
        text = resolveString(
          properties.DefinitionString,
          resolver,
          `${logicalId} DefinitionString`,
        );
      } else if (properties.Definition !== undefined) {
        text = JSON.stringify(resolveIntrinsics(properties.Definition, resolver));
      } else {
        throw unsupported(`state machine ${logicalId} has no inline definition`);
      }
      const substitutions = resolveIntrinsics(properties.DefinitionSubstitutions ?? {}, resolver);
      for (const [key, value] of Object.entries(substitutions as Record<string, unknown>)) {
        text = text.replaceAll(`\${${key}}`, String(value));
      }
      const definition = JSON.parse(text) as AslDefinition;
      checkSupported(definition, logicalId);
      return { logicalId, definition };
    },
  );
}

/** Visits every state, nested Parallel branches and Map processors included. */
export function forEachState(
  definition: { States: Record<string, AslState> },
  visit: (name: string, state: AslState) => void,
): void {
  for (const [name, state] of Object.entries(definition.States)) {
    visit(name, state);
    for (const nested of nestedMachines(state)) forEachState(nested, visit);
  }
}

export function nestedMachines(state: AslState): { States: Record<string, AslState> }[] {
  const nested: unknown[] = [];
  if (Array.isArray(state.Branches)) nested.push(...state.Branches);
  if (state.ItemProcessor) nested.push(state.ItemProcessor);
  if (state.Iterator) nested.push(state.Iterator);
  return nested.filter(
    (item): item is { States: Record<string, AslState> } =>
      typeof item === 'object' && item !== null && 'States' in item,
  );
}

/** The Lambda a Task state invokes locally: `lambda:invoke` or a function ARN as Resource. */
export function isLambdaTask(state: AslState): boolean {
  return (
    state.Type === 'Task' &&
    typeof state.Resource === 'string' &&
    (state.Resource === LAMBDA_INVOKE || LAMBDA_ARN.test(state.Resource))
  );
}

function checkSupported(definition: AslDefinition, logicalId: string): void {
  if (definition.QueryLanguage === 'JSONata') {
    throw unsupported(`${logicalId} uses JSONata, which the local interpreter cannot run`);
  }
  forEachState(definition, (name, state) => {
    const where = `${logicalId} state "${name}"`;
    if (state.QueryLanguage === 'JSONata') throw unsupported(`${where} uses JSONata`);
    if (state.Assign !== undefined) throw unsupported(`${where} uses Assign (variables)`);
    if (state.HeartbeatSeconds !== undefined || state.HeartbeatSecondsPath !== undefined) {
      throw unsupported(`${where} uses HeartbeatSeconds`);
    }
    if (state.Type === 'Task' && !isLambdaTask(state)) {
      throw unsupported(`${where} calls ${String(state.Resource)}; only Lambda tasks run locally`);
    }
    if (state.Type === 'Wait') {
      for (const field of ['SecondsPath', 'TimestampPath'] as const) {
        const path = state[field];
        if (typeof path === 'string' && !parseReferencePath(path)) {
          throw unsupported(`${where} has a ${field} the local timer cannot read: ${path}`);
        }
      }
    }
  });
}
