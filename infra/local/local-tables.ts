import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { type CfnTemplate, resourcesOfType, unsupported } from './cfn-template.ts';

/**
 * A DynamoDB table of the synthesized template, as DynamoDB Local creates it: the template is
 * the one description of the table (keys, indexes, billing, TTL), so the local table cannot drift
 * from the deployed one. Properties DynamoDB Local has no use for (encryption, point-in-time
 * recovery, deletion protection, tags, ...) are left out.
 */
export interface LocalTable {
  definition: CreateTableCommandInput;
  /** The attribute DynamoDB expires items by, when the template enables TTL. */
  timeToLiveAttribute?: string;
}

/** Properties copied as they are: CloudFormation and the CreateTable API share their shapes. */
const COPIED = [
  'AttributeDefinitions',
  'KeySchema',
  'BillingMode',
  'GlobalSecondaryIndexes',
  'LocalSecondaryIndexes',
  'ProvisionedThroughput',
] as const;

/**
 * The table of `template` whose local name (`localName`, e.g. the resolver's `ref`) is
 * `tableName`, the name the functions were given.
 */
export function tableFromTemplate(
  template: CfnTemplate,
  tableName: string,
  localName: (logicalId: string) => string,
): LocalTable {
  const found = resourcesOfType(template, 'AWS::DynamoDB::Table').find(
    ([logicalId]) => localName(logicalId) === tableName,
  );
  if (!found) throw unsupported(`no AWS::DynamoDB::Table is named ${tableName}`);
  const [, resource] = found;
  const properties = resource.Properties ?? {};
  const definition: Record<string, unknown> = { TableName: tableName };
  for (const name of COPIED) {
    if (properties[name] !== undefined) definition[name] = properties[name];
  }
  const ttl = properties.TimeToLiveSpecification as
    | { AttributeName?: unknown; Enabled?: unknown }
    | undefined;
  return {
    definition: definition as unknown as CreateTableCommandInput,
    ...(ttl?.Enabled === true && typeof ttl.AttributeName === 'string'
      ? { timeToLiveAttribute: ttl.AttributeName }
      : {}),
  };
}

/**
 * Creates the table unless it exists (data kept in .local/), and turns its TTL on. Says whether
 * it was created: a new table holds no job a previous run left in flight.
 */
export async function createLocalTable(
  client: DynamoDBClient,
  table: LocalTable,
): Promise<{ created: boolean }> {
  let created = true;
  try {
    await client.send(new CreateTableCommand(table.definition));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    created = false;
    await addMissingIndexes(client, table.definition);
  }
  if (!table.timeToLiveAttribute) return { created };
  const TableName = table.definition.TableName;
  const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName }));
  if (TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED') return { created };
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName,
      TimeToLiveSpecification: { AttributeName: table.timeToLiveAttribute, Enabled: true },
    }),
  );
  return { created };
}

/** Deletes the table, if it is there (a stack on a shared DynamoDB, as it stops). */
export async function deleteLocalTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
}

/** A table kept in the data directory by an older version gets the indexes it lacks. */
async function addMissingIndexes(
  client: DynamoDBClient,
  definition: CreateTableCommandInput,
): Promise<void> {
  const { Table } = await client.send(
    new DescribeTableCommand({ TableName: definition.TableName }),
  );
  const existing = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  for (const index of definition.GlobalSecondaryIndexes ?? []) {
    if (existing.has(index.IndexName)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: definition.TableName,
        AttributeDefinitions: definition.AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
  }
}
