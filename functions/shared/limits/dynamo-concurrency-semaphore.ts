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
import { concurrencyKey } from './limits-table.ts';

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

/** The slot pool item's attributes (limits-table.ts). */
const HOLDERS = 'holders';
const WAITING = 'waitingClients';
/** Per-client attributes are named `<prefix><client>`; client names hold no `#`. */
const CLIENT_HOLDERS = 'holders#';
const CLIENT_WEIGHT = 'weight#';
const CLIENT_CAP = 'cap#';
const CLIENT_SERVED = 'served#';
const CLIENT_MARKED = 'marked#';
const CLIENT_CLOCK = 'vclock#';
/** Per-deployment holders: `holders@<deployment>` (deployment ids hold no `@`). */
const DEPLOYMENT_HOLDERS = 'holders@';

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
            '#holders': HOLDERS,
            '#mine': CLIENT_HOLDERS + owner.client,
            '#served': CLIENT_SERVED + owner.client,
            '#clock': CLIENT_CLOCK + owner.client,
            ...(deployment ? { '#there': DEPLOYMENT_HOLDERS + deployment.id } : {}),
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
      const holders = refusal.item?.[HOLDERS];
      if (!(holders instanceof Set && holders.has(jobId))) return false;
      if (deployment === undefined) return true;
      const there = refusal.item?.[DEPLOYMENT_HOLDERS + deployment.id];
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
            '#holders': HOLDERS,
            '#mine': CLIENT_HOLDERS + client,
            ...(deployment ? { '#there': DEPLOYMENT_HOLDERS + deployment } : {}),
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
      if (name.startsWith(CLIENT_HOLDERS)) {
        for (const jobId of stringsOf(value))
          clientOf.set(jobId, name.slice(CLIENT_HOLDERS.length));
      } else if (name.startsWith(DEPLOYMENT_HOLDERS)) {
        for (const jobId of stringsOf(value)) {
          deploymentOf.set(jobId, name.slice(DEPLOYMENT_HOLDERS.length));
        }
      }
    }
    return stringsOf(item[HOLDERS])
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
      if (name.startsWith(DEPLOYMENT_HOLDERS)) {
        deployments[name.slice(DEPLOYMENT_HOLDERS.length)] = { holders: stringsOf(value).sort() };
      } else if (name.startsWith(CLIENT_HOLDERS)) {
        const slots = entry(name.slice(CLIENT_HOLDERS.length));
        slots.holders = stringsOf(value).sort();
        slots.running = slots.holders.length;
      } else if (name.startsWith(CLIENT_WEIGHT) && typeof value === 'number') {
        entry(name.slice(CLIENT_WEIGHT.length)).weight = value;
      } else if (name.startsWith(CLIENT_CAP) && typeof value === 'number') {
        entry(name.slice(CLIENT_CAP.length)).maxConcurrent = value;
      } else if (name.startsWith(CLIENT_CLOCK) && typeof value === 'number') {
        entry(name.slice(CLIENT_CLOCK.length)).virtualClock = value;
      } else if (name.startsWith(CLIENT_SERVED) && typeof value === 'string') {
        entry(name.slice(CLIENT_SERVED.length)).lastServedAt = value;
      }
    }
    for (const client of stringsOf(item[WAITING])) entry(client).waiting = true;
    return { limit: this.limit, inUse: stringsOf(item[HOLDERS]).length, clients, deployments };
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
          '#waiting': WAITING,
          '#weight': CLIENT_WEIGHT + client,
          '#cap': CLIENT_CAP + client,
          '#marked': CLIENT_MARKED + client,
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
          ExpressionAttributeNames: { '#clock': CLIENT_CLOCK + client },
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
          ExpressionAttributeNames: { '#waiting': WAITING, '#marked': CLIENT_MARKED + client },
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
