import { LocalStackError } from './local-errors.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './local-ids.ts';

/** The parts of a synthesized CloudFormation template the local stack reads. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface CfnOutput {
  Value: unknown;
  Export?: { Name: unknown };
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, CfnOutput>;
}

/** What `Ref` and `Fn::GetAtt` of a resource, and another stack's outputs, stand for locally. */
export interface IntrinsicResolver {
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): string;
  /** `Fn::GetStackOutput` (CDK's weak cross-stack references). */
  stackOutput(stackName: string, outputName: string): unknown;
  /** `Fn::ImportValue` (CDK's strong cross-stack references). */
  importValue(exportName: string): unknown;
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'local',
  'AWS::NoValue': '',
};

/**
 * Replaces CloudFormation intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`,
 * `Fn::Select`, `Fn::Split`, `Fn::GetStackOutput`, `Fn::ImportValue`) by local values. Anything else is refused by name, so a template
 * change the local stack cannot follow fails at start instead of running something different.
 */
export function resolveIntrinsics(value: unknown, resolver: IntrinsicResolver): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, resolver));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    return resolveFunction(first[0], first[1], resolver);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveIntrinsics(item, resolver)]));
}

/** `resolveIntrinsics` for a value that must end up a string. */
export function resolveString(value: unknown, resolver: IntrinsicResolver, what: string): string {
  const resolved = resolveIntrinsics(value, resolver);
  if (typeof resolved !== 'string') {
    throw unsupported(`${what} does not resolve to a string`);
  }
  return resolved;
}

function resolveFunction(name: string, argument: unknown, resolver: IntrinsicResolver): unknown {
  const asString = (item: unknown) => resolveString(item, resolver, name);
  switch (name) {
    case 'Ref': {
      const id = String(argument);
      return PSEUDO_PARAMETERS[id] ?? resolver.ref(id);
    }
    case 'Fn::GetAtt': {
      const [id, attribute] = Array.isArray(argument)
        ? argument.map(String)
        : String(argument).split(/\.(.*)/s);
      if (!id || !attribute) throw unsupported(`malformed Fn::GetAtt ${JSON.stringify(argument)}`);
      return resolver.getAtt(id, attribute);
    }
    case 'Fn::Join': {
      const [separator, items] = tuple(argument, name);
      const list = resolveIntrinsics(items, resolver);
      if (typeof separator !== 'string' || !Array.isArray(list)) {
        throw unsupported('malformed Fn::Join');
      }
      return list.map((item) => asString(item)).join(separator);
    }
    case 'Fn::Sub': {
      const [text, variables] = Array.isArray(argument) ? tuple(argument, name) : [argument, {}];
      const values = resolveIntrinsics(variables, resolver) as Record<string, unknown>;
      return String(text).replace(/\$\{([^}]+)\}/g, (_match, key: string) => {
        if (Object.hasOwn(values, key)) return asString(values[key]);
        if (PSEUDO_PARAMETERS[key] !== undefined) return PSEUDO_PARAMETERS[key];
        const [id, attribute] = key.split(/\.(.*)/s);
        return attribute && id ? resolver.getAtt(id, attribute) : resolver.ref(key);
      });
    }
    case 'Fn::Select': {
      const [index, items] = tuple(argument, name);
      const list = resolveIntrinsics(items, resolver);
      const at = Number(resolveIntrinsics(index, resolver));
      if (!Array.isArray(list) || !Number.isInteger(at) || at < 0 || at >= list.length) {
        throw unsupported('malformed Fn::Select');
      }
      return list[at];
    }
    case 'Fn::GetStackOutput': {
      const { StackName, OutputName } = (argument ?? {}) as Record<string, unknown>;
      return resolver.stackOutput(asString(StackName), asString(OutputName));
    }
    case 'Fn::ImportValue':
      return resolver.importValue(asString(argument));
    case 'Fn::Split': {
      const [separator, text] = tuple(argument, name);
      return asString(text).split(String(separator));
    }
    default:
      throw unsupported(`the intrinsic function ${name} is not supported locally`);
  }
}

function tuple(argument: unknown, name: string): [unknown, unknown] {
  if (!Array.isArray(argument) || argument.length !== 2) {
    throw unsupported(`malformed ${name}`);
  }
  return [argument[0], argument[1]];
}

export function unsupported(message: string): LocalStackError {
  return new LocalStackError('template-unsupported', `Synthesized template: ${message}`);
}

/** Logical ids of the resources of one type, in template order. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}
