import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  type CfnStateMachine,
  DefinitionBody,
  Errors,
  JitterType,
  JsonPath,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { LAMBDA_SERVICE_ERRORS } from '../../functions/shared/errors/error-policy.ts';
import { retryOf, STATE_MACHINE_METADATA_KEY } from './generation-state-machine.ts';
import { acknowledgeWildcards, wildcardResourceFinding } from './nag-acknowledgments.ts';

// Error name thrown by functions/webhooks/deliver-webhook.ts when the receiver did not take it.
export const WEBHOOK_DELIVERY_ERROR = 'WebhookDeliveryError';

/**
 * Retries of one delivery: 5 s, 10 s, 20 s, ... capped at 10 minutes, jittered; the first attempt
 * and 9 retries span about half an hour.
 */
export const WEBHOOK_RETRY = {
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxAttempts: 9,
  maxDelay: Duration.minutes(10),
};

export interface WebhookDeliveryProps {
  deliverWebhook: IFunction;
  logRetention?: RetentionDays;
}

/**
 * The durable queue of webhook deliveries: one Standard execution per event (named by its
 * webhook id, so an event queued twice runs once), a Deliver task retried with exponential
 * backoff on WebhookDeliveryError, and, when every attempt failed, the same function recording
 * the delivery as failed on the job.
 */
export class WebhookDelivery extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);

    const deliver = new LambdaInvoke(this, 'Deliver', {
      lambdaFunction: props.deliverWebhook,
      payload: TaskInput.fromJsonPathAt('$'),
      retryOnServiceExceptions: false,
      resultPath: JsonPath.DISCARD,
    });
    deliver.addRetry({
      errors: [WEBHOOK_DELIVERY_ERROR, ...LAMBDA_SERVICE_ERRORS],
      ...WEBHOOK_RETRY,
      jitterStrategy: JitterType.FULL,
    });
    const giveUp = new LambdaInvoke(this, 'GiveUp', {
      lambdaFunction: props.deliverWebhook,
      payload: TaskInput.fromObject({
        jobId: JsonPath.stringAt('$.jobId'),
        client: JsonPath.stringAt('$.client'),
        webhookId: JsonPath.stringAt('$.webhookId'),
        url: JsonPath.stringAt('$.url'),
        payload: JsonPath.objectAt('$.payload'),
        exhausted: true,
        error: JsonPath.objectAt('$.error'),
      }),
      retryOnServiceExceptions: false,
      resultPath: JsonPath.DISCARD,
    });
    giveUp.addRetry(retryOf(LAMBDA_SERVICE_ERRORS, 'lambdaService'));
    deliver.addCatch(giveUp, { errors: [Errors.ALL], resultPath: '$.error' });
    const done = new Succeed(this, 'Done');
    giveUp.next(done);

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(deliver.next(done)),
      comment: 'Delivers one webhook event, retrying with backoff under the same webhook-id',
      timeout: Duration.hours(3),
      tracingEnabled: true,
      // No execution data in the logs: the payload holds the prompt.
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    (this.stateMachine.node.defaultChild as CfnStateMachine).addMetadata(
      STATE_MACHINE_METADATA_KEY,
      'webhook',
    );

    // On the role's default policy, which holds the statements (not the whole construct).
    const policy = this.stateMachine.role.node.findChild('DefaultPolicy');
    acknowledgeWildcards(
      policy,
      ['Resource::*'],
      'X-Ray tracing (xray:PutTraceSegments, ...) and CloudWatch Logs log delivery (logs:CreateLogDelivery, ...) support no resource-level permissions.',
    );
    acknowledgeWildcards(
      policy,
      [wildcardResourceFinding(this, props.deliverWebhook.functionArn, ':*')],
      'LambdaInvoke grants lambda:InvokeFunction on the delivery function and its versions and aliases (<function ARN>:*); no other function.',
    );
  }
}
