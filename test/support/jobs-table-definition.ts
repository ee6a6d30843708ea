import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import {
  JOB_INDEXES,
  type JobIndex,
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
  const gsi = (index: JobIndex) => ({
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
    GlobalSecondaryIndexes: JOB_INDEXES.map(gsi),
  };
}
