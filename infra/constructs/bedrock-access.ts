import { Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { SETTING_VARIABLES } from '../../functions/shared/config/plain-config.ts';
import { BEDROCK_OUTPUT_PREFIX } from '../../functions/shared/provider/bedrock/bedrock-output.ts';
import { acknowledgeWildcards, wildcardResourceFinding } from './nag-acknowledgments.ts';
import type { PipelineFunction } from './pipeline-function.ts';

export interface BedrockAccessProps {
  /** Bedrock model ids of the catalogue (`"provider": "bedrock"`). */
  models: readonly string[];
  /** Where Bedrock runs them (`bedrock:region`, default the stack's). */
  region: string;
  /** The videos bucket: Bedrock writes under BEDROCK_OUTPUT_PREFIX there. */
  bucket: IBucket;
}

/** What a task does with Bedrock: start invocations, poll them, or collect their output. */
export type BedrockTask = 'create' | 'poll' | 'download';

/**
 * Least-privilege Bedrock access for one state-machine task, and the BEDROCK_* environment the
 * provider reads. No `bedrock:*`: InvokeModel (what StartAsyncInvoke requires) on the catalogue's
 * foundation models only; GetAsyncInvoke / ListAsyncInvokes on the account's async invocations
 * in the region; S3 only under the output prefix. Bedrock writes the MP4 with the caller's
 * credentials, so the create role holds the PutObject that write needs.
 */
export function grantBedrockAccess(
  fn: PipelineFunction,
  props: BedrockAccessProps,
  task: BedrockTask,
): void {
  if (props.models.length === 0) return;
  const stack = Stack.of(fn);
  const { partition, account } = stack;
  const invocations = `arn:${partition}:bedrock:${props.region}:${account}:async-invoke/*`;
  const outputs = props.bucket.arnForObjects(`${BEDROCK_OUTPUT_PREFIX}*`);
  const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }),
    );

  if (task === 'create') {
    add(
      ['bedrock:InvokeModel'],
      props.models.map(
        (model) => `arn:${partition}:bedrock:${props.region}::foundation-model/${model}`,
      ),
    );
    // Reconciliation finds an invocation by its clientRequestToken.
    add(['bedrock:ListAsyncInvokes'], [invocations]);
    add(['s3:PutObject'], [outputs]);
  } else {
    add(['bedrock:GetAsyncInvoke'], [invocations]);
  }
  if (task === 'download') {
    add(['s3:GetObject', 's3:DeleteObject'], [outputs]);
    add(['s3:ListBucket'], [props.bucket.bucketArn], {
      StringLike: { 's3:prefix': `${BEDROCK_OUTPUT_PREFIX}*` },
    });
  }
  acknowledgeWildcards(
    fn,
    [
      wildcardResourceFinding(fn, invocations),
      ...(task === 'poll'
        ? []
        : [wildcardResourceFinding(fn, props.bucket.bucketArn, `/${BEDROCK_OUTPUT_PREFIX}*`)]),
    ],
    'Bedrock async invocations are named by Bedrock (async-invoke/<id>), unknown when the policy is written; their outputs live under bedrock-output/<job id>/ of the videos bucket, keyed by job ids.',
  );
  fn.function.addEnvironment(SETTING_VARIABLES.bedrockOutputBucket, props.bucket.bucketName);
  fn.function.addEnvironment(SETTING_VARIABLES.bedrockRegion, props.region);
}
