import { describe, expect, it } from 'vitest';
import { EXPIRES_AT } from '../../functions/shared/limits/limits-table.ts';
import type { CfnTemplate } from '../../infra/local/cfn-template.ts';
import { localResolver } from '../../infra/local/local-resources.ts';
import { tableFromTemplate } from '../../infra/local/local-tables.ts';
import { jobsTableDefinition } from '../support/jobs-table-definition.ts';
import { synthesizeForTest } from './synthesized-pipeline.ts';

const byName = <T extends { AttributeName?: string; IndexName?: string }>(items: T[] = []) =>
  [...items].sort((a, b) =>
    String(a.AttributeName ?? a.IndexName).localeCompare(String(b.AttributeName ?? b.IndexName)),
  );

describe('the jobs table, one description', () => {
  const { statefulTemplate } = synthesizeForTest();
  const template = statefulTemplate.toJSON() as CfnTemplate;
  const ref = localResolver(template).ref;
  const [logicalId] = Object.keys(statefulTemplate.findResources('AWS::DynamoDB::Table'));
  const tableName = ref(logicalId ?? '');

  it('is what the local stack creates: keys, indexes and billing of the template, TTL on', () => {
    const table = tableFromTemplate(template, tableName, ref);

    expect(table.definition).toMatchObject({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    });
    expect(table.timeToLiveAttribute).toBe(EXPIRES_AT);
  });

  it("equals the integration tests' CreateTable input", () => {
    const fromTemplate = tableFromTemplate(template, tableName, ref).definition;
    const forTests = jobsTableDefinition(tableName);

    expect(byName(fromTemplate.AttributeDefinitions)).toEqual(
      byName(forTests.AttributeDefinitions),
    );
    expect(fromTemplate.KeySchema).toEqual(forTests.KeySchema);
    expect(fromTemplate.BillingMode).toEqual(forTests.BillingMode);
    expect(byName(fromTemplate.GlobalSecondaryIndexes)).toEqual(
      byName(forTests.GlobalSecondaryIndexes),
    );
  });

  it('refuses a table name the template does not declare', () => {
    expect(() => tableFromTemplate(template, 'NoSuchTable', ref)).toThrow(/NoSuchTable/);
  });
});
