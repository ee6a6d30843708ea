import {
  type CfnTemplate,
  type IntrinsicResolver,
  resolveIntrinsics,
  resourcesOfType,
  unsupported,
} from './cfn-template.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, lambdaArn, secretArn, stateMachineArn } from './local-ids.ts';

/**
 * Local names of the template's resources: deterministic (derived from logical ids unless the
 * template names the resource), so data kept under .local/ is found again after a restart.
 * `stacks` (by stack name) lets cross-stack references resolve to the other stack's values.
 * `tablePrefix` goes before every DynamoDB table's name: stacks that share one DynamoDB (tests)
 * each keep tables of their own.
 */
export function localResolver(
  template: CfnTemplate,
  stacks: Record<string, CfnTemplate> = {},
  names: { tablePrefix?: string } = {},
): IntrinsicResolver {
  const resource = (logicalId: string) => {
    const found = template.Resources[logicalId];
    if (!found) throw unsupported(`reference to unknown resource ${logicalId}`);
    return found;
  };
  const named = (logicalId: string, property: string): string | undefined => {
    const value = resource(logicalId).Properties?.[property];
    return typeof value === 'string' ? value : undefined;
  };
  const ref = (logicalId: string): string => {
    switch (resource(logicalId).Type) {
      case 'AWS::StepFunctions::StateMachine':
        return stateMachineArn(logicalId);
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return `${names.tablePrefix ?? ''}${named(logicalId, 'TableName') ?? logicalId}`;
      case 'AWS::S3::Bucket':
        return named(logicalId, 'BucketName') ?? bucketName(logicalId);
      case 'AWS::SecretsManager::Secret':
        return secretArn(named(logicalId, 'Name') ?? logicalId);
      case 'AWS::ApiGatewayV2::Api':
        return logicalId.toLowerCase();
      default:
        return logicalId;
    }
  };
  const getAtt = (logicalId: string, attribute: string): string => {
    const { Type } = resource(logicalId);
    if (Type === 'AWS::Lambda::Function' && attribute === 'Arn') return lambdaArn(logicalId);
    if (Type === 'AWS::StepFunctions::StateMachine') {
      return attribute === 'Name' ? logicalId : stateMachineArn(logicalId);
    }
    if (Type.startsWith('AWS::DynamoDB::') && attribute === 'Arn') {
      return `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${ref(logicalId)}`;
    }
    if (Type === 'AWS::S3::Bucket' && attribute === 'Arn') return `arn:aws:s3:::${ref(logicalId)}`;
    // Attributes nothing local reads (log group ARNs, role ARNs, ...): a recognisable placeholder.
    return `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${logicalId}/${attribute}`;
  };
  const stackOutput = (stackName: string, outputName: string): unknown => {
    const stack = stacks[stackName];
    const output = stack?.Outputs?.[outputName];
    if (!stack || !output) throw unsupported(`no output ${outputName} in stack ${stackName}`);
    return resolveIntrinsics(output.Value, localResolver(stack, stacks, names));
  };
  const importValue = (exportName: string): unknown => {
    for (const stack of Object.values(stacks)) {
      const resolver = localResolver(stack, stacks, names);
      for (const output of Object.values(stack.Outputs ?? {})) {
        if (output.Export && resolveIntrinsics(output.Export.Name, resolver) === exportName) {
          return resolveIntrinsics(output.Value, resolver);
        }
      }
    }
    throw unsupported(`no stack exports ${exportName}`);
  };
  return { ref, getAtt, stackOutput, importValue };
}

/** S3 bucket names: 3-63 lower-case letters, digits and hyphens. */
function bucketName(logicalId: string): string {
  const name = logicalId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63);
  return name.length >= 3 ? name : `${name}-bucket`;
}

/** A Lambda function of the template, as the local stack runs it in-process. */
export interface LocalFunctionSpec {
  logicalId: string;
  /** Project-relative entry module exporting `handler`. */
  handlerModule: string;
  timeoutSeconds: number;
  memorySize: number;
  /** Environment variables with intrinsic functions resolved to local values. */
  environment: Record<string, string>;
}

/**
 * Every Lambda function that names its handler module in its metadata (`metadataKey`); other
 * functions (CDK's own helpers, e.g. log retention) are not part of the pipeline and ignored.
 */
export function localFunctions(
  template: CfnTemplate,
  resolver: IntrinsicResolver,
  metadataKey: string,
): Map<string, LocalFunctionSpec> {
  const functions = new Map<string, LocalFunctionSpec>();
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const handlerModule = resource.Metadata?.[metadataKey];
    if (typeof handlerModule !== 'string') continue;
    const properties = resource.Properties ?? {};
    const variables = (properties.Environment as { Variables?: unknown } | undefined)?.Variables;
    const resolved = resolveIntrinsics(variables ?? {}, resolver) as Record<string, unknown>;
    functions.set(logicalId, {
      logicalId,
      handlerModule,
      timeoutSeconds: typeof properties.Timeout === 'number' ? properties.Timeout : 3,
      memorySize: typeof properties.MemorySize === 'number' ? properties.MemorySize : 128,
      environment: Object.fromEntries(
        Object.entries(resolved).map(([name, value]) => [name, String(value)]),
      ),
    });
  }
  return functions;
}
