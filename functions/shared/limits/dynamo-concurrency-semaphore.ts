import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ConcurrencySemaphore } from './limits.ts';
import { concurrencyKey } from './limits-table.ts';

export interface DynamoConcurrencySemaphoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  limit: number;
}

/**
 * The semaphore as one item whose `holders` string set names the jobs holding a slot. Acquire
 * ADDs the job under a condition that admits it while there is room or when it already holds a
 * slot, so a retried acquire never takes a second slot and concurrent acquires never overfill
 * the set (each conditional write sees the set as the last one left it). The limit is part of
 * the condition, not of the item: a new MAX_CONCURRENT_JOBS applies at once.
 */
export class DynamoConcurrencySemaphore implements ConcurrencySemaphore {
  readonly limit: number;
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: DynamoConcurrencySemaphoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.limit = options.limit;
  }

  async acquire(jobId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: concurrencyKey(),
          UpdateExpression: 'ADD #holders :holder',
          ConditionExpression:
            'attribute_not_exists(#holders) OR size(#holders) < :limit OR contains(#holders, :jobId)',
          ExpressionAttributeNames: { '#holders': 'holders' },
          ExpressionAttributeValues: {
            ':holder': new Set([jobId]),
            ':limit': this.limit,
            ':jobId': jobId,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(jobId: string): Promise<boolean> {
    // Only a holder's DELETE goes through: the answer tells whether a slot was freed. The last
    // DELETE removes the set.
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: concurrencyKey(),
          UpdateExpression: 'DELETE #holders :holder',
          ConditionExpression: 'contains(#holders, :jobId)',
          ExpressionAttributeNames: { '#holders': 'holders' },
          ExpressionAttributeValues: { ':holder': new Set([jobId]), ':jobId': jobId },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async holders(): Promise<string[]> {
    const output = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: concurrencyKey(),
        ConsistentRead: true,
      }),
    );
    const holders: unknown = output.Item?.holders;
    if (!(holders instanceof Set)) return [];
    return [...holders].filter((holder): holder is string => typeof holder === 'string').sort();
  }
}
