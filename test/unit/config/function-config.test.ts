import { describe, expect, it } from 'vitest';
import { readConfig } from '../../../functions/shared/config/function-config.ts';
import {
  ConfigurationError,
  readPlainConfig,
} from '../../../functions/shared/config/plain-config.ts';

const ENV = {
  JOBS_TABLE_NAME: 'jobs',
  VIDEOS_BUCKET_NAME: 'videos',
  STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:generate',
  PROVIDER_SECRET_ID: 'provider-key',
  API_TOKENS_SECRET_ID: 'api-tokens',
  PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1',
  MAX_CONCURRENT_JOBS: '3',
};

function errorOf(read: () => unknown): ConfigurationError {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('readConfig', () => {
  it('reads exactly the settings a handler names, typed', () => {
    const config = readConfig(['jobsTableName', 'stateMachineArn', 'provider', 'limits'], ENV);

    expect(config).toEqual({
      jobsTableName: 'jobs',
      stateMachineArn: ENV.STATE_MACHINE_ARN,
      provider: expect.objectContaining({ baseUrl: ENV.PROVIDER_BASE_URL, defaultModel: 'sora-2' }),
      limits: expect.objectContaining({ maxConcurrentJobs: 3 }),
    });
  });

  it('keeps no provider key in the provider settings (the key is a secret, read on use)', () => {
    const { provider } = readConfig(['provider'], ENV);

    expect(provider).not.toHaveProperty('apiKey');
  });

  it('ignores variables of settings it was not asked for', () => {
    expect(readConfig(['apiTokensSecretId'], { API_TOKENS_SECRET_ID: 'tokens' })).toEqual({
      apiTokensSecretId: 'tokens',
    });
  });

  it('names every missing or blank variable in one error', () => {
    const error = errorOf(() =>
      readConfig(['jobsTableName', 'videosBucketName', 'stateMachineArn'], {
        VIDEOS_BUCKET_NAME: '  ',
      }),
    );

    expect(error.name).toBe('ConfigurationError');
    expect(error.message).toBe(
      'Missing or empty environment variable(s): JOBS_TABLE_NAME, VIDEOS_BUCKET_NAME, STATE_MACHINE_ARN',
    );
  });

  it('names invalid values beside missing variables', () => {
    const error = errorOf(() =>
      readConfig(['providerSecretId', 'provider', 'limits'], {
        PROVIDER_BASE_URL: ENV.PROVIDER_BASE_URL,
        PROVIDER_MODELS: '{not json',
        MAX_CONCURRENT_JOBS: 'many',
      }),
    );

    expect(error.message).toMatch(
      /^Missing or empty environment variable\(s\): PROVIDER_SECRET_ID; /,
    );
    expect(error.message).toMatch(/PROVIDER_MODELS/);
    expect(error.message).toMatch(/MAX_CONCURRENT_JOBS must be a whole number/);
  });

  it('reads the optional webhook settings: no delivery and no loopback unless set', () => {
    expect(readConfig(['webhookDelivery', 'webhookPolicy'], {})).toEqual({
      webhookDelivery: undefined,
      webhookPolicy: { allowLoopback: false },
    });
    expect(
      readConfig(['webhookDelivery', 'webhookPolicy'], {
        WEBHOOK_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:webhooks',
        WEBHOOK_ALLOW_LOOPBACK: 'true',
      }),
    ).toEqual({
      webhookDelivery: 'arn:aws:states:us-east-1:123456789012:stateMachine:webhooks',
      webhookPolicy: { allowLoopback: true },
    });
  });

  it('refuses a loopback switch that is neither true nor false, naming it', () => {
    const error = errorOf(() => readConfig(['webhookPolicy'], { WEBHOOK_ALLOW_LOOPBACK: 'yes' }));

    expect(error.message).toBe('WEBHOOK_ALLOW_LOOPBACK must be true or false, not "yes"');
  });
});

describe('readPlainConfig', () => {
  it('reads the plain settings a handler names, as readConfig does', () => {
    expect(readPlainConfig(['apiTokensSecretId'], ENV)).toEqual(
      readConfig(['apiTokensSecretId'], ENV),
    );
  });

  it('names a missing variable in a ConfigurationError', () => {
    const error = errorOf(() => readPlainConfig(['apiTokensSecretId'], {}));

    expect(error.message).toBe('Missing or empty environment variable(s): API_TOKENS_SECRET_ID');
  });
});
