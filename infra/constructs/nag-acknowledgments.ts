import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag 3 acknowledges findings by exact id, e.g.
 * `AwsSolutions-IAM5[Resource::<MyFunction1234.Arn>:*]`; there is no pattern matching. These
 * helpers build those ids from the same tokens the grants used, so an acknowledgment names
 * exactly the wildcard a grant created and nothing else.
 */

/** The finding id cdk-nag's IAM5 rule reports for a resource ARN (token) plus a literal suffix. */
export function wildcardResourceFinding(scope: IConstruct, arn: string, suffix = ''): string {
  return `Resource::${flattenReference(Stack.of(scope).resolve(arn))}${suffix}`;
}

/** Acknowledges AwsSolutions-IAM5 findings (wildcards) on `scope` and everything below it. */
export function acknowledgeWildcards(scope: IConstruct, findings: string[], reason: string): void {
  for (const finding of findings) {
    Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

// Mirrors cdk-nag's flattenCfnReference (lib/utils/flatten-cfn-reference.js).
function flattenReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof value === 'object' && value !== null) {
    const node = value as Record<string, unknown>;
    const join = node['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flattenReference).join(delimiter);
    }
    if (node['Fn::Sub'] !== undefined) return flattenReference(node['Fn::Sub']);
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      const [resource, attribute] = getAtt as [unknown, unknown];
      return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
    }
    if (node['Fn::ImportValue'] !== undefined) return flattenReference(node['Fn::ImportValue']);
    if (node.Ref !== undefined) return `<${flattenReference(node.Ref)}>`;
  }
  return JSON.stringify(value);
}
