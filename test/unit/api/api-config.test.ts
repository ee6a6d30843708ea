import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  readApiConfig,
  readAuthorizerConfig,
} from '../../../functions/api/api-config.ts';

const ENV = {
  JOBS_TABLE_NAME: 'jobs',
  VIDEOS_BUCKET_NAME: 'videos',
  STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:generate',
  PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1',
  WEBHOOK_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:webhooks',
  WEBHOOK_SECRET_ID: 'webhook-signing',
};

describe('readApiConfig', () => {
  it('reads the table, bucket, state machine and provider catalogue without an API key in the env', () => {
    const config = readApiConfig(ENV);

    expect(config).toMatchObject({
      jobsTableName: 'jobs',
      videosBucketName: 'videos',
      stateMachineArn: ENV.STATE_MACHINE_ARN,
      webhookStateMachineArn: ENV.WEBHOOK_STATE_MACHINE_ARN,
      webhookSecretId: 'webhook-signing',
      providerConfig: { defaultModel: 'sora-2' },
    });
  });

  it('names every missing variable', () => {
    const read = () =>
      readApiConfig({ PROVIDER_BASE_URL: ENV.PROVIDER_BASE_URL, VIDEOS_BUCKET_NAME: '' });

    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(/JOBS_TABLE_NAME, VIDEOS_BUCKET_NAME, STATE_MACHINE_ARN/);
  });

  it('names a bad provider variable', () => {
    expect(() => readApiConfig({ ...ENV, PROVIDER_MODELS: '{not json' })).toThrow(
      /PROVIDER_MODELS/,
    );
  });
});

describe('readAuthorizerConfig', () => {
  it('reads the tokens secret id and names it when missing', () => {
    expect(readAuthorizerConfig({ API_TOKENS_SECRET_ID: 'api-tokens' })).toEqual({
      apiTokensSecretId: 'api-tokens',
    });
    expect(() => readAuthorizerConfig({})).toThrow(/API_TOKENS_SECRET_ID/);
  });
});
