/**
 * DynamoDB's refusals of a conditional write, read with the item they were refused against. A
 * write that sets `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'` gets the item as it stood in
 * the error (ConditionalCheckFailedException's `Item`, or each cancellation reason's of a
 * transaction), so the store knows why without a second read. lib-dynamodb converts items in
 * answers, not in errors: these convert them to plain values, as a GetCommand would answer them.
 */
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

type Item = Record<string, unknown>;

/** Why one item of a cancelled transaction was refused (`code` e.g. ConditionalCheckFailed). */
export interface CancellationReason {
  code: string | undefined;
  /** The item as it stood, when it exists and its write asked for it (ALL_OLD). */
  item: Item | undefined;
}

/**
 * A failed condition (ConditionalCheckFailedException) with the item it failed against, which
 * is undefined when there was none; undefined for any other error.
 */
export function conditionFailure(error: unknown): { item: Item | undefined } | undefined {
  if (!(error instanceof ConditionalCheckFailedException)) return undefined;
  return { item: error.Item === undefined ? undefined : unmarshall(error.Item) };
}

/** A cancelled transaction's reasons, one per item in order; undefined for any other error. */
export function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((reason) => ({
    code: reason.Code,
    item: reason.Item === undefined ? undefined : unmarshall(reason.Item),
  }));
}
