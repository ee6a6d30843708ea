import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectOwnership,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { JOB_INDEXES, PARTITION_KEY, SORT_KEY } from '../../functions/shared/jobs/jobs-table.ts';
import { EXPIRES_AT } from '../../functions/shared/limits/limits-table.ts';
import {
  BEDROCK_OUTPUT_EXPIRY_DAYS,
  BEDROCK_OUTPUT_PREFIX,
} from '../../functions/shared/provider/bedrock/bedrock-output.ts';

/**
 * What must survive any redeploy: the videos bucket, the jobs table and the secrets. Everything
 * here is retained when the stack is deleted; the stateless pipeline stack takes these as props.
 */
export class StatefulStack extends Stack {
  readonly videosBucket: Bucket;
  readonly accessLogsBucket: Bucket;
  readonly jobsTable: Table;
  /** SecretString: the provider API key (a generated placeholder until you set it). */
  readonly providerApiKeySecret: Secret;
  /** SecretString: JSON `{"tokens":["..."]}`, the bearer tokens the HTTP API accepts. */
  readonly apiTokensSecret: Secret;
  /** The deployment's webhook signing secret; each client's `whsec_` secret is derived from it. */
  readonly webhookSigningSecret: Secret;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    this.accessLogsBucket = new Bucket(this, 'AccessLogsBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // Server access logs can only be delivered to SSE-S3 buckets.
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          transitions: [
            { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
          ],
          expiration: Duration.days(365),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // cdk-nag's S1 (server access logs) does not report a bucket that is itself a log
    // destination, so nothing is acknowledged here.

    // Videos (and later the inbox prefix). Versioned so an overwrite or delete is recoverable;
    // old versions expire so a re-downloaded video does not cost twice forever.
    this.videosBucket = new Bucket(this, 'VideosBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'videos-bucket/',
      lifecycleRules: [
        // A download that dies mid-stream leaves parts behind that are billed until aborted.
        {
          id: 'AbortIncompleteMultipartUploads',
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        { id: 'ExpireNoncurrentVersions', noncurrentVersionExpiration: Duration.days(30) },
        // Bedrock's outputs are moved to videos/ once verified; what stays behind is waste.
        {
          id: 'ExpireBedrockOutputs',
          prefix: BEDROCK_OUTPUT_PREFIX,
          expiration: Duration.days(BEDROCK_OUTPUT_EXPIRY_DAYS),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.jobsTable = new Table(this, 'JobsTable', {
      partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: SORT_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      // Per-minute request counters and per-day budget records expire on their own.
      timeToLiveAttribute: EXPIRES_AT,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Key names shared with the job store and the local stack (functions/shared/jobs/jobs-table.ts).
    for (const index of JOB_INDEXES) {
      this.jobsTable.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }

    // No key in the template: a random placeholder the provider will reject (a clear
    // ProviderRejectedError) until the real key is put (see the ProviderApiKeySecretName output).
    this.providerApiKeySecret = new Secret(this, 'ProviderApiKeySecret', {
      description: 'API key of the /v1/videos provider (SecretString = the key itself)',
      generateSecretString: { passwordLength: 40, excludePunctuation: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Secrets Manager can only generate a string value under one key of a JSON template, so the
    // secret starts as {"tokens":[],"generatedToken":"<random>"}: no token is accepted until you
    // put your own list (see the ApiTokensSecretName output). The API fails closed meanwhile.
    this.apiTokensSecret = new Secret(this, 'ApiTokensSecret', {
      description:
        'API clients and the sha256 of their bearer tokens (SecretString = {"clients":{"<name>":{"tokenSha256":"<hex>"}}})',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ tokens: [] }),
        generateStringKey: 'generatedToken',
        passwordLength: 48,
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Never shown to anyone: clients get secrets derived from it (GET /webhooks/secret).
    this.webhookSigningSecret = new Secret(this, 'WebhookSigningSecret', {
      description: 'Root of the webhook signing secrets (each client gets an HMAC of it)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.webhookSigningSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "Rotating it changes every client's webhook secret at once, which their receivers must learn first; rotate by hand with put-secret-value when they can.",
    });

    for (const secret of [this.providerApiKeySecret, this.apiTokensSecret]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Both values are issued outside AWS (the provider key by the provider, API tokens by the operator); no rotation Lambda could create them. Rotate with put-secret-value; the functions re-read secrets every 5 minutes.',
      });
    }

    new CfnOutput(this, 'VideosBucketName', {
      value: this.videosBucket.bucketName,
      description: 'S3 bucket holding the generated videos',
    });
    new CfnOutput(this, 'JobsTableName', {
      value: this.jobsTable.tableName,
      description: 'DynamoDB table of jobs',
    });
    new CfnOutput(this, 'ProviderApiKeySecretName', {
      value: this.providerApiKeySecret.secretName,
      description:
        'Set the provider API key: aws secretsmanager put-secret-value --secret-id <this name> --secret-string "$PROVIDER_API_KEY"',
    });
    new CfnOutput(this, 'ApiTokensSecretName', {
      value: this.apiTokensSecret.secretName,
      description:
        'Set the API tokens: aws secretsmanager put-secret-value --secret-id <this name> --secret-string \'{"clients":{"<name>":{"tokenSha256":"<sha256 hex of the token>","admin":false}}}\' (see docs/guide.md, Clients)',
    });
  }
}
