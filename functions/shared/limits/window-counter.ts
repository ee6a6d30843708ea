import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { EXPIRES_AT, WINDOW_COUNT } from './limits-table.ts';

// A window's counter is worthless once the window is over; an hour leaves it for inspection.
const COUNTER_TTL_SECONDS = 3600;

/**
 * Counts one more use of a fixed window's allowance: ADDs one to the window's item under the
 * condition that its count is still below `limit`, so every function instance draws on the same
 * allowance. False when the allowance is spent (DynamoDB charges the refused write too). The item
 * expires an hour after `windowEndSeconds`. Shared by the provider's request allowance and each
 * client's request rate.
 */
export async function countInWindow(
  client: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, string>,
  limit: number,
  windowEndSeconds: number,
): Promise<boolean> {
  try {
    await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'ADD #count :one SET #expiresAt = :expiresAt',
        ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
        ExpressionAttributeNames: { '#count': WINDOW_COUNT, '#expiresAt': EXPIRES_AT },
        ExpressionAttributeValues: {
          ':one': 1,
          ':limit': limit,
          ':expiresAt': windowEndSeconds + COUNTER_TTL_SECONDS,
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
