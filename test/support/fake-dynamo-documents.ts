import { type Mock, vi } from 'vitest';
import { AwsServiceError } from '../../functions/shared/aws/aws-json-api.ts';
import type { DynamoDocuments } from '../../functions/shared/aws/dynamodb-documents.ts';

/** A stand-in for the stores' DynamoDB client: one vitest mock per operation. */
export type FakeDynamoDocuments = {
  [Operation in keyof DynamoDocuments]: Mock<DynamoDocuments[Operation]>;
};

export function fakeDynamoDocuments(): FakeDynamoDocuments {
  const db = {
    get: vi.fn<DynamoDocuments['get']>(),
    put: vi.fn<DynamoDocuments['put']>(),
    update: vi.fn<DynamoDocuments['update']>(),
    query: vi.fn<DynamoDocuments['query']>(),
    transactWrite: vi.fn<DynamoDocuments['transactWrite']>(),
  } satisfies DynamoDocuments;
  resetFakeDynamoDocuments(db);
  return db;
}

/**
 * Forgets the calls and the answers a test set: every operation then answers `{}` (no item,
 * a write that went through) until the next test says otherwise.
 */
export function resetFakeDynamoDocuments(db: FakeDynamoDocuments): void {
  db.get.mockReset().mockResolvedValue({});
  db.put.mockReset().mockResolvedValue({});
  db.update.mockReset().mockResolvedValue({});
  db.query.mockReset().mockResolvedValue({});
  db.transactWrite.mockReset().mockResolvedValue({});
}

/** What DynamoDB answers to a write whose condition does not hold. */
export function conditionFailed(message = 'The conditional request failed'): AwsServiceError {
  return new AwsServiceError('ConditionalCheckFailedException', message, 400, {});
}

/** What DynamoDB answers to a cancelled transaction: one reason code per item, in order. */
export function transactionCanceled(...codes: string[]): AwsServiceError {
  return new AwsServiceError('TransactionCanceledException', 'Transaction cancelled', 400, {
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}
