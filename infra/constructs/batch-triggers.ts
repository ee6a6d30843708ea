import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DropFolder } from '../../functions/shared/intake/drop-folder.ts';

// The id CDK gives the singleton function behind Custom::S3BucketNotifications.
const NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

export interface DropFolderNotificationsProps {
  bucket: IBucket;
  intake: IFunction;
  folders: readonly DropFolder[];
}

/**
 * Object-created notifications of the drop folders' prefixes to the intake function. Reports are
 * written under other prefixes (`inbox-results/`, ...), so the intake never triggers itself.
 */
export class DropFolderNotifications extends Construct {
  constructor(scope: Construct, id: string, props: DropFolderNotificationsProps) {
    super(scope, id);
    for (const folder of props.folders) {
      props.bucket.addEventNotification(
        EventType.OBJECT_CREATED,
        new LambdaDestination(props.intake),
        { prefix: folder.prefix },
      );
    }
    acknowledgeNotificationsHandler(Stack.of(this));
  }
}

/**
 * CDK's own helper that writes the bucket's notification configuration (the bucket lives in the
 * stateful stack, so the configuration is set by a custom resource here).
 */
function acknowledgeNotificationsHandler(stack: Stack): void {
  const handler = stack.node.tryFindChild(NOTIFICATIONS_HANDLER_ID);
  if (handler === undefined) return;
  Validations.of(handler).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      "CDK's BucketNotificationsHandler (a deployment-time custom resource that sets the drop folder notifications, not part of the pipeline) logs with the basic execution role CDK gives it; its own policy is scoped to the videos bucket.",
  });
}

export interface BatchScheduleProps {
  scheduler: IFunction;
  /** EventBridge schedule expression, e.g. `rate(5 minutes)`. */
  expression: string;
  /** Where a run EventBridge could not deliver to the scheduler goes. */
  deadLetterQueue?: IQueue;
}

/** The EventBridge rule that runs the scheduler: start deferred jobs, sweep stuck ones. */
export class BatchSchedule extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: BatchScheduleProps) {
    super(scope, id);
    this.rule = new Rule(this, 'Rule', {
      description: 'Starts deferred video jobs within the limits and sweeps stuck ones',
      schedule: Schedule.expression(props.expression),
      // A run that cannot be delivered soon is pointless: the next one comes anyway.
      targets: [
        new LambdaFunction(props.scheduler, {
          retryAttempts: 2,
          maxEventAge: Duration.minutes(10),
          ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
        }),
      ],
    });
  }
}
