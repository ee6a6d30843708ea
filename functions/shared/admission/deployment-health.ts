/**
 * A circuit breaker per provider deployment: a deployment whose creates are refused outright
 * (5xx answered before the job was accepted, connection refused, 401/403, 429 beyond its
 * allowance) is taken out for a cool-down so jobs go to the model's other deployments.
 *
 * - closed: in use. `FAILURES_TO_OPEN` consecutive definite refusals open it (a success in
 *   between starts the count again).
 * - open: out of use until `openUntil`, `COOL_DOWN_SECONDS` after it opened.
 * - half_open: the cool-down has passed; one caller takes the probe (`takeProbe`) and sends one
 *   create there. While the probe is out the deployment shows open again, for one more
 *   cool-down: a probe whose answer never comes is taken again after it.
 *   The probe's success closes it; its failure re-opens it for another cool-down.
 *
 * Every method takes the time from its caller, the pipeline's clock (clock.ts `now()`), so the
 * local stack's `--speed` shortens the cool-down like every other duration.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { conditionFailure } from '../aws/dynamodb-refusals.ts';
import { DEPLOYMENT_HEALTH, deploymentHealthKey } from '../limits/limits-table.ts';

/** Consecutive definite refusals that open a deployment. */
export const FAILURES_TO_OPEN = 3;
/** How long an opened deployment stays out before it is probed, on the pipeline's clock. */
export const COOL_DOWN_SECONDS = 60;

export type DeploymentState = 'closed' | 'open' | 'half_open';

export interface DeploymentHealth {
  /** Each deployment's state at `now`; one never recorded is closed. */
  states(ids: readonly string[], now: Date): Promise<Record<string, DeploymentState>>;
  /**
   * Counts a definite refusal of a create (`reason`: a short code such as an error name and
   * status, never a provider message). 'opened' when this failure opened a closed deployment,
   * exactly once per opening however many fail at once; 'counted' otherwise, including the
   * failed probe that re-opens a half-open one (the same opening goes on, so the events a
   * reporter publishes alternate open and closed).
   */
  recordFailure(id: string, now: Date, reason: string): Promise<'opened' | 'counted'>;
  /** A create was accepted: the count starts again; 'closed' when this closed an open deployment. */
  recordSuccess(id: string, now: Date): Promise<'closed' | 'unchanged'>;
  /**
   * Whether this caller got the probe of a half-open deployment: true for exactly one caller
   * per half-open period, false for the others and for a closed or cooling deployment (a closed
   * one needs no probe: send to it).
   */
  takeProbe(id: string, now: Date): Promise<boolean>;
}

/** The breaker as stored; `half_open` is never stored, it is `open` past `openUntil`. */
export interface DeploymentHealthRecord {
  /** Definite refusals since the last success. */
  failures: number;
  state: 'closed' | 'open';
  /** ISO times, set while open. */
  openedAt?: string;
  openUntil?: string;
  /** When the current probe was taken (open only). */
  probeTakenAt?: string;
  /** The last refusal's reason. */
  lastReason?: string;
}

/** The state of a stored breaker at `now`: an open one whose cool-down has passed is half-open. */
export function stateAt(record: DeploymentHealthRecord | undefined, now: Date): DeploymentState {
  if (record?.state !== 'open') return 'closed';
  // ISO strings of one format order as their times do (DynamoDB compares them the same way).
  return record.openUntil !== undefined && record.openUntil <= now.toISOString()
    ? 'half_open'
    : 'open';
}

/** When a cool-down that starts at `now` ends (ISO). */
export function coolDownEnd(now: Date): string {
  return new Date(now.getTime() + COOL_DOWN_SECONDS * 1000).toISOString();
}

// A refusal's reason is stored and published: keep it a short code.
const MAX_REASON_LENGTH = 120;

export function shortReason(reason: string): string {
  return reason.slice(0, MAX_REASON_LENGTH);
}

/** Attribute names of the breaker's item. */
const NAMES = {
  '#failures': DEPLOYMENT_HEALTH.failures,
  '#state': DEPLOYMENT_HEALTH.state,
  '#openedAt': DEPLOYMENT_HEALTH.openedAt,
  '#openUntil': DEPLOYMENT_HEALTH.openUntil,
  '#probe': DEPLOYMENT_HEALTH.probeTakenAt,
  '#reason': DEPLOYMENT_HEALTH.lastReason,
} as const;
type Name = keyof typeof NAMES;

/** Only the names an expression uses: DynamoDB refuses unused ones. */
const names = (...used: Name[]) => Object.fromEntries(used.map((name) => [name, NAMES[name]]));

const isClosed = 'attribute_not_exists(#state) OR #state = :closed';
const isOpen = '#state = :open';
const reachedThreshold = '#failures >= :threshold';
const coolDownPassed = '#openUntil <= :now';
const probeStillOut = '#probe = :probe';
const hasFailures = '#failures > :zero';

export interface DynamoDeploymentHealthOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
}

/**
 * The breakers on the jobs table, one item per deployment. Each transition is one conditional
 * write, so callers in many Lambdas agree: one opens a deployment, one takes its probe, one
 * closes it, and the others are told so by the failed condition.
 */
export class DynamoDeploymentHealth implements DeploymentHealth {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: DynamoDeploymentHealthOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async states(ids: readonly string[], now: Date): Promise<Record<string, DeploymentState>> {
    const unique = [...new Set(ids)];
    const records = await Promise.all(unique.map((id) => this.#record(id)));
    return Object.fromEntries(unique.map((id, i) => [id, stateAt(records[i], now)]));
  }

  async recordFailure(id: string, now: Date, reason: string): Promise<'opened' | 'counted'> {
    // Counted first, by ADD: no concurrent failure is lost, and the count it answers tells
    // whether this one may have reached the threshold.
    const counted = await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: deploymentHealthKey(id),
        UpdateExpression:
          'ADD #failures :one SET #state = if_not_exists(#state, :closed), #reason = :reason',
        ExpressionAttributeNames: names('#failures', '#state', '#reason'),
        ExpressionAttributeValues: {
          ':one': 1,
          ':closed': 'closed',
          ':reason': shortReason(reason),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const record = toRecord(counted.Attributes);
    if (record.state === 'closed' && record.failures >= FAILURES_TO_OPEN) {
      // Every caller past the threshold tries; the condition lets one open it, and none after a
      // success started the count again.
      const opened = await this.#conditionally({
        Key: deploymentHealthKey(id),
        UpdateExpression: 'SET #state = :open, #openedAt = :now, #openUntil = :until REMOVE #probe',
        ConditionExpression: `(${isClosed}) AND ${reachedThreshold}`,
        ExpressionAttributeNames: names('#state', '#openedAt', '#openUntil', '#probe', '#failures'),
        ExpressionAttributeValues: {
          ':open': 'open',
          ':closed': 'closed',
          ':now': now.toISOString(),
          ':until': coolDownEnd(now),
          ':threshold': FAILURES_TO_OPEN,
        },
      });
      return opened ? 'opened' : 'counted';
    }
    if (record.state === 'open' && record.probeTakenAt !== undefined) {
      // The probe failed: another cool-down. A failure while no probe is out comes from a
      // create sent before the deployment opened and leaves the cool-down as it is.
      await this.#conditionally({
        Key: deploymentHealthKey(id),
        UpdateExpression: 'SET #openUntil = :until REMOVE #probe',
        ConditionExpression: `${isOpen} AND ${probeStillOut}`,
        ExpressionAttributeNames: names('#state', '#openUntil', '#probe'),
        ExpressionAttributeValues: {
          ':open': 'open',
          ':until': coolDownEnd(now),
          ':probe': record.probeTakenAt,
        },
      });
    }
    return 'counted';
  }

  async recordSuccess(id: string, _now: Date): Promise<'closed' | 'unchanged'> {
    try {
      // Written only when there is something to reset: a healthy deployment's successes write
      // nothing.
      const output = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: deploymentHealthKey(id),
          UpdateExpression:
            'SET #state = :closed, #failures = :zero REMOVE #openedAt, #openUntil, #probe',
          ConditionExpression: `${isOpen} OR ${hasFailures}`,
          ExpressionAttributeNames: names(
            '#state',
            '#failures',
            '#openedAt',
            '#openUntil',
            '#probe',
          ),
          ExpressionAttributeValues: { ':closed': 'closed', ':open': 'open', ':zero': 0 },
          // The item before this write: of concurrent successes, only the first saw it open.
          ReturnValues: 'ALL_OLD',
        }),
      );
      return output.Attributes?.state === 'open' ? 'closed' : 'unchanged';
    } catch (error) {
      if (conditionFailure(error)) return 'unchanged';
      throw error;
    }
  }

  async takeProbe(id: string, now: Date): Promise<boolean> {
    // Taking the probe starts another cool-down: the others see it open, and take the probe
    // again only if its answer has not come by then.
    return this.#conditionally({
      Key: deploymentHealthKey(id),
      UpdateExpression: 'SET #probe = :now, #openUntil = :until',
      ConditionExpression: `${isOpen} AND ${coolDownPassed}`,
      ExpressionAttributeNames: names('#state', '#probe', '#openUntil'),
      ExpressionAttributeValues: {
        ':open': 'open',
        ':now': now.toISOString(),
        ':until': coolDownEnd(now),
      },
    });
  }

  /** A conditional update: true when it was written, false when its condition failed. */
  async #conditionally(input: Omit<UpdateCommandInput, 'TableName'>): Promise<boolean> {
    try {
      await this.#client.send(new UpdateCommand({ TableName: this.#tableName, ...input }));
      return true;
    } catch (error) {
      if (conditionFailure(error)) return false;
      throw error;
    }
  }

  async #record(id: string): Promise<DeploymentHealthRecord | undefined> {
    const output = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: deploymentHealthKey(id),
        ConsistentRead: true,
      }),
    );
    return output.Item === undefined ? undefined : toRecord(output.Item);
  }
}

function toRecord(item: Record<string, unknown> | undefined): DeploymentHealthRecord {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const openedAt = text(item?.openedAt);
  const openUntil = text(item?.openUntil);
  const probeTakenAt = text(item?.probeTakenAt);
  const lastReason = text(item?.lastReason);
  return {
    failures: typeof item?.failures === 'number' ? item.failures : 0,
    state: item?.state === 'open' ? 'open' : 'closed',
    ...(openedAt === undefined ? {} : { openedAt }),
    ...(openUntil === undefined ? {} : { openUntil }),
    ...(probeTakenAt === undefined ? {} : { probeTakenAt }),
    ...(lastReason === undefined ? {} : { lastReason }),
  };
}
