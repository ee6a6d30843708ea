import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IDestination, IFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** How an asynchronously invoked function is retried before its event goes to the dead letters. */
export interface AsyncInvokePolicy {
  /** Lambda's own retries after a failed invocation (0-2). */
  retryAttempts: number;
  /** An event older than this is not tried again: it goes to the dead letters. */
  maxEventAge: Duration;
}

/**
 * The dead-letter queue of the pipeline's asynchronous invocations (the drop-folder intake, the
 * scheduler): an event whose invocation still failed after its bounded retries, or grew too old,
 * lands here with its original payload (`requestPayload`), the function (`requestContext`) and
 * the error (`responsePayload`), instead of being dropped by Lambda. Encrypted, SSL only, kept
 * 14 days (SQS's maximum) for a human to look at and redrive (docs/guide.md, "Operating it").
 */
export class DeadLetters extends Construct {
  readonly queue: Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Undelivered work: kept when the stateless stack is replaced or deleted.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination of asynchronous Lambda invocations; nothing consumes it automatically, so it needs no dead-letter queue of its own.',
    });
  }

  /**
   * Bounds `fn`'s asynchronous retries and sends what still fails here (Lambda's on-failure
   * destination). Grants the function sqs:SendMessage on this queue and nothing else (CDK's
   * SqsDestination would add GetQueueAttributes and GetQueueUrl, which Lambda does not use).
   */
  receiveFailuresOf(fn: IFunction, policy: AsyncInvokePolicy): this {
    const queue = this.queue;
    const onFailure: IDestination = {
      bind: (_scope, target) => {
        target.addToRolePolicy(
          new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
        );
        return { destination: queue.queueArn };
      },
    };
    fn.configureAsyncInvoke({
      retryAttempts: policy.retryAttempts,
      maxEventAge: policy.maxEventAge,
      onFailure,
    });
    return this;
  }
}
