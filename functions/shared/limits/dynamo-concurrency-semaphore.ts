import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionFailure } from '../aws/dynamodb-refusals.ts';
import { now } from '../clock.ts';
import { DEFAULT_CLIENT } from '../jobs/job.ts';
import type {
  ClientSlots,
  ConcurrencySemaphore,
  DeploymentSlot,
  SlotHolder,
  SlotPoolState,
} from './limits.ts';
import { concurrencyKey, SLOT_POOL } from './limits-table.ts';

export interface DynamoConcurrencySemaphoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  limit: number;
  /**
   * Clock of `lastServedAt` and of the waiting marks (default: the pipeline's clock, which
   * admission's `clearWaiting(client, markedBefore)` is measured on too).
   */
  now?: () => Date;
}

/**
 * The slot pool as one item: `holders` (string set) names every job holding a slot and
 * `holders#<client>` the client's own, so the global limit and a client's cap are both sizes
 * the acquire's condition can check. Acquire ADDs the job to both sets under a condition that
 * admits it while there is room on both; a job already holding a slot is refused by the
 * condition and told so from the refused item, so a retried acquire never takes a second slot
 * and concurrent acquires never overfill a set (each conditional write sees the item as the last
 * one left it). The limits are part of the condition, not of the item: a new MAX_CONCURRENT_JOBS
 * or cap applies at once.
 *
 * The same item keeps what the fair share reads at a hand-off: the clients with jobs waiting
 * (`waitingClients`), each one's weight, cap and virtual clock (`vclock#<client>`, moved on by
 * 1 / weight with every slot its jobs take), and when it was last served.
 */
export class DynamoConcurrencySemaphore implements ConcurrencySemaphore {
  readonly limit: number;
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;

  constructor(options: DynamoConcurrencySemaphoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.limit = options.limit;
    this.#now = options.now ?? now;
  }

  async acquire(
    jobId: string,
    owner: {
      client: string;
      maxConcurrent?: number;
      weight?: number;
      deployment?: DeploymentSlot;
    } = { client: DEFAULT_CLIENT },
  ): Promise<boolean> {
    const capped = owner.maxConcurrent !== undefined;
    const deployment = owner.deployment;
    const deploymentCapped = deployment?.maxConcurrent !== undefined;
    // ADD, not SET: concurrent acquires of one client each move its clock, none lost.
    const tick = 1 / (owner.weight ?? 1);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: concurrencyKey(),
          UpdateExpression: `ADD #holders :holder, #mine :holder, #clock :tick${
            deployment ? ', #there :holder' : ''
          } SET #served = :now`,
          ConditionExpression: `NOT contains(#holders, :jobId) AND (attribute_not_exists(#holders) OR size(#holders) < :limit)${
            capped ? ' AND (attribute_not_exists(#mine) OR size(#mine) < :cap)' : ''
          }${deploymentCapped ? ' AND (attribute_not_exists(#there) OR size(#there) < :deploymentCap)' : ''}`,
          ExpressionAttributeNames: {
            '#holders': SLOT_POOL.holders,
            '#mine': SLOT_POOL.clientHolders + owner.client,
            '#served': SLOT_POOL.clientServed + owner.client,
            '#clock': SLOT_POOL.clientClock + owner.client,
            ...(deployment ? { '#there': SLOT_POOL.deploymentHolders + deployment.id } : {}),
          },
          ExpressionAttributeValues: {
            ':tick': tick,
            ':holder': new Set([jobId]),
            ':limit': this.limit,
            ':jobId': jobId,
            ':now': this.#now().toISOString(),
            ...(capped ? { ':cap': owner.maxConcurrent } : {}),
            ...(deploymentCapped ? { ':deploymentCap': deployment?.maxConcurrent } : {}),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (error) {
      const refusal = conditionFailure(error);
      if (!refusal) throw error;
      // Refused because it holds one already (a retried acquire): it keeps that one, if it is on
      // the deployment asked for. One on another deployment (a concurrent hand-off took it) is
      // not this one: answering true would run the job here, uncounted here.
      const holders = refusal.item?.[SLOT_POOL.holders];
      if (!(holders instanceof Set && holders.has(jobId))) return false;
      if (deployment === undefined) return true;
      const there = refusal.item?.[SLOT_POOL.deploymentHolders + deployment.id];
      return there instanceof Set && there.has(jobId);
    }
  }

  async release(
    jobId: string,
    client: string = DEFAULT_CLIENT,
    deployment?: string,
  ): Promise<boolean> {
    // Only a holder's DELETE goes through: the answer tells whether a slot was freed. The last
    // DELETE removes a set.
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: concurrencyKey(),
          UpdateExpression: `DELETE #holders :holder, #mine :holder${deployment ? ', #there :holder' : ''}`,
          ConditionExpression: 'contains(#holders, :jobId)',
          ExpressionAttributeNames: {
            '#holders': SLOT_POOL.holders,
            '#mine': SLOT_POOL.clientHolders + client,
            ...(deployment ? { '#there': SLOT_POOL.deploymentHolders + deployment } : {}),
          },
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
    return (await this.slotHolders()).map((holder) => holder.jobId).sort();
  }

  async slotHolders(): Promise<SlotHolder[]> {
    const item = await this.#item();
    const clientOf = new Map<string, string>();
    const deploymentOf = new Map<string, string>();
    for (const [name, value] of Object.entries(item)) {
      if (name.startsWith(SLOT_POOL.clientHolders)) {
        for (const jobId of stringsOf(value))
          clientOf.set(jobId, name.slice(SLOT_POOL.clientHolders.length));
      } else if (name.startsWith(SLOT_POOL.deploymentHolders)) {
        for (const jobId of stringsOf(value)) {
          deploymentOf.set(jobId, name.slice(SLOT_POOL.deploymentHolders.length));
        }
      }
    }
    return stringsOf(item[SLOT_POOL.holders])
      .sort()
      .map((jobId) => {
        const deployment = deploymentOf.get(jobId);
        return {
          jobId,
          client: clientOf.get(jobId) ?? DEFAULT_CLIENT,
          ...(deployment === undefined ? {} : { deployment }),
        };
      });
  }

  async state(): Promise<SlotPoolState> {
    const item = await this.#item();
    const clients: Record<string, ClientSlots> = {};
    const deployments: SlotPoolState['deployments'] = {};
    const entry = (client: string): ClientSlots => {
      clients[client] ??= { running: 0, holders: [], waiting: false, weight: 1, virtualClock: 0 };
      return clients[client];
    };
    for (const [name, value] of Object.entries(item)) {
      if (name.startsWith(SLOT_POOL.deploymentHolders)) {
        deployments[name.slice(SLOT_POOL.deploymentHolders.length)] = {
          holders: stringsOf(value).sort(),
        };
      } else if (name.startsWith(SLOT_POOL.clientHolders)) {
        const slots = entry(name.slice(SLOT_POOL.clientHolders.length));
        slots.holders = stringsOf(value).sort();
        slots.running = slots.holders.length;
      } else if (name.startsWith(SLOT_POOL.clientWeight) && typeof value === 'number') {
        entry(name.slice(SLOT_POOL.clientWeight.length)).weight = value;
      } else if (name.startsWith(SLOT_POOL.clientCap) && typeof value === 'number') {
        entry(name.slice(SLOT_POOL.clientCap.length)).maxConcurrent = value;
      } else if (name.startsWith(SLOT_POOL.clientClock) && typeof value === 'number') {
        entry(name.slice(SLOT_POOL.clientClock.length)).virtualClock = value;
      } else if (name.startsWith(SLOT_POOL.clientServed) && typeof value === 'string') {
        entry(name.slice(SLOT_POOL.clientServed.length)).lastServedAt = value;
      }
    }
    for (const client of stringsOf(item[SLOT_POOL.waitingClients])) entry(client).waiting = true;
    return {
      limit: this.limit,
      inUse: stringsOf(item[SLOT_POOL.holders]).length,
      clients,
      deployments,
    };
  }

  async markWaiting(
    client: string,
    share: { weight: number; maxConcurrent?: number },
    catchUpTo?: number,
  ): Promise<void> {
    if (catchUpTo !== undefined) await this.#catchUp(client, catchUpTo);
    const capped = share.maxConcurrent !== undefined;
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: concurrencyKey(),
        UpdateExpression: `ADD #waiting :client SET #weight = :weight, #marked = :now${capped ? ', #cap = :cap' : ' REMOVE #cap'}`,
        ExpressionAttributeNames: {
          '#waiting': SLOT_POOL.waitingClients,
          '#weight': SLOT_POOL.clientWeight + client,
          '#cap': SLOT_POOL.clientCap + client,
          '#marked': SLOT_POOL.clientMarked + client,
        },
        ExpressionAttributeValues: {
          ':client': new Set([client]),
          ':weight': share.weight,
          ':now': this.#now().toISOString(),
          ...(capped ? { ':cap': share.maxConcurrent } : {}),
        },
      }),
    );
  }

  /** Moves a client's virtual clock up to `to`; never back. */
  async #catchUp(client: string, to: number): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: concurrencyKey(),
          UpdateExpression: 'SET #clock = :to',
          ConditionExpression: 'attribute_not_exists(#clock) OR #clock < :to',
          ExpressionAttributeNames: { '#clock': SLOT_POOL.clientClock + client },
          ExpressionAttributeValues: { ':to': to },
        }),
      );
    } catch (error) {
      // Its clock is at or past `to` already.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async clearWaiting(client: string, markedBefore: string): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: concurrencyKey(),
          UpdateExpression: 'DELETE #waiting :client',
          ConditionExpression: 'attribute_not_exists(#marked) OR #marked < :markedBefore',
          ExpressionAttributeNames: {
            '#waiting': SLOT_POOL.waitingClients,
            '#marked': SLOT_POOL.clientMarked + client,
          },
          ExpressionAttributeValues: {
            ':client': new Set([client]),
            ':markedBefore': markedBefore,
          },
        }),
      );
    } catch (error) {
      // Marked again lately: a job may be on its way into the queue index.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async #item(): Promise<Record<string, unknown>> {
    const output = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: concurrencyKey(), ConsistentRead: true }),
    );
    return output.Item ?? {};
  }
}

function stringsOf(value: unknown): string[] {
  if (!(value instanceof Set)) return [];
  return [...value].filter((member): member is string => typeof member === 'string');
}
