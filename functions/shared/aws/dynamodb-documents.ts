/**
 * The pipeline's DynamoDB document client: the five operations the stores use (GetItem, PutItem,
 * UpdateItem, Query, TransactWriteItems), with the inputs and outputs of
 * `@aws-sdk/lib-dynamodb`'s commands (plain values in, plain values out, undefined attributes
 * dropped), sent over DynamoDB's JSON protocol by aws-json-api.ts instead of the SDK client,
 * which a function would otherwise load at every cold start. Values are converted by
 * `@aws-sdk/util-dynamodb`, the converter lib-dynamodb itself uses.
 */
import { randomUUID } from 'node:crypto';
import type {
  GetCommandInput,
  GetCommandOutput,
  PutCommandInput,
  PutCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  TransactWriteCommandInput,
  TransactWriteCommandOutput,
  UpdateCommandInput,
  UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { AwsJsonClient, type AwsJsonClientOptions, AwsServiceError } from './aws-json-api.ts';

type Output<T> = Omit<T, '$metadata'>;
type Values = Record<string, unknown>;

/** What the stores call; tests of one store stand in for it. */
export interface DynamoDocuments {
  get(input: GetCommandInput): Promise<Output<GetCommandOutput>>;
  put(input: PutCommandInput): Promise<Output<PutCommandOutput>>;
  update(input: UpdateCommandInput): Promise<Output<UpdateCommandOutput>>;
  query(input: QueryCommandInput): Promise<Output<QueryCommandOutput>>;
  transactWrite(input: TransactWriteCommandInput): Promise<Output<TransactWriteCommandOutput>>;
}

export const DYNAMODB_SERVICE = {
  traceName: 'DynamoDB',
  signingName: 'dynamodb',
  hostPrefix: 'dynamodb',
  endpointId: 'DYNAMODB',
  targetPrefix: 'DynamoDB_20120810',
  jsonVersion: '1.0',
} as const;

/** DynamoDB over its JSON API (see the module comment). */
export class DynamoDocumentClient implements DynamoDocuments {
  readonly api: AwsJsonClient;

  constructor(options: AwsJsonClientOptions = {}) {
    this.api = new AwsJsonClient(DYNAMODB_SERVICE, options);
  }

  async get(input: GetCommandInput): Promise<Output<GetCommandOutput>> {
    const answer = await this.#call('GetItem', { ...input, Key: toItem(input.Key) });
    return { ...answer, Item: fromItem(answer.Item) };
  }

  async put(input: PutCommandInput): Promise<Output<PutCommandOutput>> {
    const answer = await this.#call('PutItem', {
      ...input,
      Item: toItem(input.Item),
      ExpressionAttributeValues: toItem(input.ExpressionAttributeValues),
    });
    return { ...answer, Attributes: fromItem(answer.Attributes) };
  }

  async update(input: UpdateCommandInput): Promise<Output<UpdateCommandOutput>> {
    const answer = await this.#call('UpdateItem', {
      ...input,
      Key: toItem(input.Key),
      ExpressionAttributeValues: toItem(input.ExpressionAttributeValues),
    });
    return { ...answer, Attributes: fromItem(answer.Attributes) };
  }

  async query(input: QueryCommandInput): Promise<Output<QueryCommandOutput>> {
    const answer = await this.#call('Query', {
      ...input,
      ExpressionAttributeValues: toItem(input.ExpressionAttributeValues),
      ExclusiveStartKey: toItem(input.ExclusiveStartKey),
    });
    const items = Array.isArray(answer.Items) ? answer.Items : [];
    return {
      ...answer,
      Items: items.map((item) => fromItem(item) ?? {}),
      LastEvaluatedKey: fromItem(answer.LastEvaluatedKey),
    };
  }

  async transactWrite(
    input: TransactWriteCommandInput,
  ): Promise<Output<TransactWriteCommandOutput>> {
    const items = (input.TransactItems ?? []).map((item) => ({
      ...item,
      ConditionCheck: item.ConditionCheck && {
        ...item.ConditionCheck,
        Key: toItem(item.ConditionCheck.Key),
        ExpressionAttributeValues: toItem(item.ConditionCheck.ExpressionAttributeValues),
      },
      Put: item.Put && {
        ...item.Put,
        Item: toItem(item.Put.Item),
        ExpressionAttributeValues: toItem(item.Put.ExpressionAttributeValues),
      },
      Delete: item.Delete && {
        ...item.Delete,
        Key: toItem(item.Delete.Key),
        ExpressionAttributeValues: toItem(item.Delete.ExpressionAttributeValues),
      },
      Update: item.Update && {
        ...item.Update,
        Key: toItem(item.Update.Key),
        ExpressionAttributeValues: toItem(item.Update.ExpressionAttributeValues),
      },
    }));
    // As the SDK does: a token makes the call's own retries idempotent, so a transaction whose
    // answer was lost (a timeout, a dropped connection) succeeds again instead of failing its
    // conditions against its own writes.
    return this.#call('TransactWriteItems', {
      ...input,
      ClientRequestToken: input.ClientRequestToken ?? randomUUID(),
      TransactItems: items,
    });
  }

  async #call(operation: string, input: Values): Promise<Values> {
    try {
      return await this.api.call(operation, input);
    } catch (error) {
      throw withPlainItems(error);
    }
  }
}

/** Why a transaction was cancelled: one reason per item, in order (undefined for another error). */
export function cancellationReasons(
  error: unknown,
): { Code?: string; Item?: Values }[] | undefined {
  if (!(error instanceof AwsServiceError) || error.name !== 'TransactionCanceledException') {
    return undefined;
  }
  const reasons = error.details.CancellationReasons;
  return Array.isArray(reasons) ? (reasons as { Code?: string; Item?: Values }[]) : [];
}

/** A write's condition did not hold (ConditionalCheckFailedException). */
export function isConditionFailed(error: unknown): error is AwsServiceError {
  return error instanceof AwsServiceError && error.name === 'ConditionalCheckFailedException';
}

function toItem(values: Values | undefined): Values | undefined {
  return values && marshall(values, { removeUndefinedValues: true });
}

function fromItem(item: unknown): Values | undefined {
  return item && typeof item === 'object' ? unmarshall(item as never) : undefined;
}

// A cancelled transaction's reasons and a failed condition may carry the item as it was, in
// DynamoDB's JSON: handed on as plain values, as lib-dynamodb does.
function withPlainItems(error: unknown): unknown {
  if (!(error instanceof AwsServiceError)) return error;
  const details: Values = { ...error.details };
  if (Array.isArray(details.CancellationReasons)) {
    details.CancellationReasons = (details.CancellationReasons as Values[]).map((reason) => ({
      ...reason,
      Item: fromItem(reason.Item),
    }));
  }
  if (details.Item) details.Item = fromItem(details.Item);
  return new AwsServiceError(error.name, error.message, error.status, details, error.requestId);
}
