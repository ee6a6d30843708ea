import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import {
  BY_CREATED_AT_INDEX,
  BY_STATUS_INDEX,
  KEY_ATTRIBUTES,
  PARTITION_KEY,
  SORT_KEY,
} from '../../functions/shared/jobs/jobs-table.ts';

/**
 * CreateTable input for the jobs table, for integration tests that create it without
 * synthesizing the CDK app. test/infra/jobs-table.test.ts holds it equal to the table the
 * template declares (which the local stack creates).
 */
export function jobsTableDefinition(tableName: string): CreateTableCommandInput {
  const gsi = (index: typeof BY_STATUS_INDEX | typeof BY_CREATED_AT_INDEX) => ({
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: KEY_ATTRIBUTES.map((name) => ({
      AttributeName: name,
      AttributeType: 'S',
    })),
    KeySchema: [
      { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
      { AttributeName: SORT_KEY, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [gsi(BY_STATUS_INDEX), gsi(BY_CREATED_AT_INDEX)],
  };
}
