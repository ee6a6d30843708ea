import { randomBytes, randomUUID } from 'node:crypto';
import { encodeS3EventKey } from '../../functions/intake/s3-event.ts';
import {
  type CfnTemplate,
  type IntrinsicResolver,
  resolveString,
  resourcesOfType,
  unsupported,
} from './cfn-template.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './local-ids.ts';

/** One Lambda destination of a bucket's notification configuration, as the template sets it. */
export interface LocalBucketNotification {
  bucket: string;
  /** Logical id of the function invoked. */
  functionLogicalId: string;
  /** Event patterns, e.g. `s3:ObjectCreated:*`. */
  events: string[];
  prefix?: string;
  suffix?: string;
}

/** An enabled EventBridge schedule rule and the functions it invokes. */
export interface LocalSchedule {
  ruleLogicalId: string;
  expression: string;
  functionLogicalIds: string[];
}

/**
 * The Lambda destinations of the template's `Custom::S3BucketNotifications` resources (what
 * `bucket.addEventNotification` synthesizes): bucket, event patterns and key filters.
 */
export function bucketNotificationsFromTemplate(
  template: CfnTemplate,
  resolver: IntrinsicResolver,
): LocalBucketNotification[] {
  const notifications: LocalBucketNotification[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'Custom::S3BucketNotifications')) {
    const properties = resource.Properties ?? {};
    const bucket = resolveString(properties.BucketName, resolver, `${logicalId} BucketName`);
    const configuration = (properties.NotificationConfiguration ?? {}) as Record<string, unknown>;
    for (const [kind, entries] of Object.entries(configuration)) {
      if (!Array.isArray(entries) || entries.length === 0) continue;
      if (kind !== 'LambdaFunctionConfigurations') {
        throw unsupported(`${logicalId}: ${kind} notifications are not supported locally`);
      }
      for (const entry of entries as Record<string, unknown>[]) {
        const notification: LocalBucketNotification = {
          bucket,
          functionLogicalId: functionOf(entry.LambdaFunctionArn, logicalId),
          events: Array.isArray(entry.Events) ? entry.Events.map(String) : [],
        };
        const filter = entry.Filter as { Key?: { FilterRules?: unknown[] } } | undefined;
        for (const rule of filter?.Key?.FilterRules ?? []) {
          const { Name, Value } = rule as { Name?: unknown; Value?: unknown };
          const name = String(Name).toLowerCase();
          if (name === 'prefix') notification.prefix = String(Value);
          else if (name === 'suffix') notification.suffix = String(Value);
        }
        notifications.push(notification);
      }
    }
  }
  return notifications;
}

/** The template's enabled `AWS::Events::Rule`s with a schedule, and their Lambda targets. */
export function schedulesFromTemplate(template: CfnTemplate): LocalSchedule[] {
  const schedules: LocalSchedule[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const properties = resource.Properties ?? {};
    if (typeof properties.ScheduleExpression !== 'string') continue;
    if (properties.State !== undefined && properties.State !== 'ENABLED') continue;
    const targets = Array.isArray(properties.Targets) ? properties.Targets : [];
    schedules.push({
      ruleLogicalId: logicalId,
      expression: properties.ScheduleExpression,
      functionLogicalIds: targets.map((target: { Arn?: unknown }) =>
        functionOf(target.Arn, logicalId),
      ),
    });
  }
  return schedules;
}

/** Milliseconds between runs of a `rate(...)` expression; undefined for `cron(...)`. */
export function rateIntervalMs(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression.trim());
  if (!match) return undefined;
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[match[2] as 'minute'];
  return Number(match[1]) * unit;
}

/** Whether an object event (`ObjectCreated:Put`, ...) on `bucket/key` matches a notification. */
export function notificationMatches(
  notification: LocalBucketNotification,
  bucket: string,
  key: string,
  eventName: string,
): boolean {
  if (notification.bucket !== bucket) return false;
  if (notification.prefix !== undefined && !key.startsWith(notification.prefix)) return false;
  if (notification.suffix !== undefined && !key.endsWith(notification.suffix)) return false;
  const name = `s3:${eventName}`;
  return notification.events.some((pattern) =>
    pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
  );
}

/** An object event as s3rver reports it (raw key, no version). */
export interface S3rverRecord {
  eventName: string;
  eventTime?: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } };
}

/**
 * The event S3 sends Lambda for one record: the AWS shape (eventVersion 2.1, URL-encoded key,
 * bucket ARN, sequencer), one record per event.
 */
export function s3LambdaEvent(
  record: S3rverRecord,
  configurationId: string,
  versionId?: string,
): { Records: unknown[] } {
  const { bucket, object } = record.s3;
  const s3Object: Record<string, unknown> = { key: encodeS3EventKey(object.key) };
  if (object.size !== undefined) s3Object.size = object.size;
  if (object.eTag !== undefined) s3Object.eTag = object.eTag;
  if (versionId !== undefined) s3Object.versionId = versionId;
  s3Object.sequencer = Date.now().toString(16).toUpperCase().padStart(16, '0');
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: LOCAL_REGION,
        eventTime: record.eventTime ?? new Date().toISOString(),
        eventName: record.eventName,
        userIdentity: { principalId: 'AWS:LOCAL' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: {
          'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(),
          'x-amz-id-2': randomBytes(16).toString('base64'),
        },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId,
          bucket: {
            name: bucket.name,
            ownerIdentity: { principalId: LOCAL_ACCOUNT },
            arn: `arn:aws:s3:::${bucket.name}`,
          },
          object: s3Object,
        },
      },
    ],
  };
}

/** The event EventBridge sends a schedule rule's Lambda target. */
export function scheduledEvent(ruleLogicalId: string, at: Date): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${ruleLogicalId}`],
    detail: {},
  };
}

function functionOf(arn: unknown, owner: string): string {
  const getAtt = (arn as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  const [logicalId, attribute] = Array.isArray(getAtt) ? getAtt : [];
  if (typeof logicalId !== 'string' || attribute !== 'Arn') {
    throw unsupported(`${owner}: a target that is not a function of this template`);
  }
  return logicalId;
}
