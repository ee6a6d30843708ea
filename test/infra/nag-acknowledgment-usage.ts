import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** One `Validations.of(construct).acknowledge()` entry. */
export interface Acknowledgment {
  path: string;
  id: string;
  reason: string;
}

/** Every acknowledgment in the tree below `scope`. */
export function acknowledgmentsIn(scope: IConstruct): Acknowledgment[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/**
 * Runs cdk-nag's AwsSolutions pack over `scope` and answers which acknowledgments silenced a
 * finding, as `<construct path> <rule id>`. cdk-nag looks a finding's id up on the resource and
 * each of its ancestors (its private `isAcknowledged`); this wraps that lookup to note the
 * construct whose acknowledgment matched.
 */
export function acknowledgmentsUsed(scope: IConstruct): Set<string> {
  const used = new Set<string>();
  const checks = new AwsSolutionsChecks();
  const lookup = checks as unknown as {
    isAcknowledged: (resource: IConstruct, ruleId: string) => boolean;
  };
  lookup.isAcknowledged = (resource, ruleId) => {
    let current: IConstruct | undefined = resource;
    while (current) {
      const acknowledged = current.node.metadata.some(
        (entry) =>
          entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY &&
          Object.keys(entry.data as Record<string, string>)
            .map((id) => id.replace(/^annotation::/i, ''))
            .includes(ruleId),
      );
      if (acknowledged) {
        used.add(`${current.node.path} ${ruleId}`);
        return true;
      }
      current = current.node.scope;
    }
    return false;
  };
  checks.validateScope(scope);
  return used;
}
