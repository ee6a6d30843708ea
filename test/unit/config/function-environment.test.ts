import { describe, expect, it } from 'vitest';
import {
  hostedChecksumConfig,
  hostedClientConfig,
} from '../../../functions/shared/aws/aws-client.ts';
import {
  functionEnvironment,
  hostFunctions,
} from '../../../functions/shared/config/function-environment.ts';
import { readPlainConfig } from '../../../functions/shared/config/plain-config.ts';

// One file, one module instance: the tests run in order, before and after a host hands over.
describe('the environment a host hands its in-process functions', () => {
  it('is process.env, and adds nothing to the clients, until a host hands one over', () => {
    expect(functionEnvironment()).toBe(process.env);
    expect(hostedClientConfig('DYNAMODB')).toEqual({});
    expect(hostedChecksumConfig()).toEqual({});
  });

  it('is what the configuration readers and the clients read, with process.env left alone', () => {
    const before = { ...process.env };
    hostFunctions({
      JOBS_TABLE_NAME: 'jobs-local',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4002',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4001',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    });

    expect(readPlainConfig(['jobsTableName'])).toEqual({ jobsTableName: 'jobs-local' });
    expect(hostedClientConfig('DYNAMODB')).toEqual({
      endpoint: 'http://127.0.0.1:4002',
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    expect(hostedClientConfig('S3')).toMatchObject({ endpoint: 'http://127.0.0.1:4001' });
    // No endpoint of its own: the service's AWS endpoint, in the local region.
    expect(hostedClientConfig('SFN')).not.toHaveProperty('endpoint');
    expect(hostedChecksumConfig()).toEqual({
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    expect(process.env).toEqual(before);
  });
});
