/**
 * Recent job durations per model and seconds, for ETAs: from admission to the rendered video,
 * as an exponentially weighted average (recent jobs count most). A statistic, not a ledger: the
 * last writer wins, and a lost update only shifts an estimate.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { PARTITION_KEY, SORT_KEY } from '../jobs/jobs-table.ts';

export interface DurationStats {
  record(model: string, seconds: string, durationSeconds: number): Promise<void>;
  /** The typical duration lately; undefined before any job of that kind finished. */
  typical(model: string, seconds: string): Promise<number | undefined>;
}

/** Weight of the newest duration in the average. */
const NEWEST_WEIGHT = 0.3;

export const durationKey = (model: string, seconds: string) => ({
  [PARTITION_KEY]: `STATS#duration#${model}#${seconds}`,
  [SORT_KEY]: 'STATS',
});

export function nextAverage(previous: number | undefined, durationSeconds: number): number {
  return previous === undefined
    ? durationSeconds
    : previous + NEWEST_WEIGHT * (durationSeconds - previous);
}

export class DynamoDurationStats implements DurationStats {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async record(model: string, seconds: string, durationSeconds: number): Promise<void> {
    const previous = await this.typical(model, seconds);
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          ...durationKey(model, seconds),
          averageSeconds: nextAverage(previous, durationSeconds),
        },
      }),
    );
  }

  async typical(model: string, seconds: string): Promise<number | undefined> {
    const output = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: durationKey(model, seconds) }),
    );
    const average: unknown = output.Item?.averageSeconds;
    return typeof average === 'number' ? average : undefined;
  }
}

export class InMemoryDurationStats implements DurationStats {
  readonly #averages = new Map<string, number>();

  async record(model: string, seconds: string, durationSeconds: number): Promise<void> {
    const key = `${model}#${seconds}`;
    this.#averages.set(key, nextAverage(this.#averages.get(key), durationSeconds));
  }

  async typical(model: string, seconds: string): Promise<number | undefined> {
    return this.#averages.get(`${model}#${seconds}`);
  }
}
