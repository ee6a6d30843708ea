import { Readable } from 'node:stream';
import {
  AccessDeniedException,
  BedrockRuntimeClient,
  GetAsyncInvokeCommand,
  ListAsyncInvokesCommand,
  ServiceQuotaExceededException,
  StartAsyncInvokeCommand,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { failureCode } from '../../../functions/shared/provider/bedrock/bedrock-errors.ts';
import {
  BedrockProvider,
  bedrockClientRequestToken,
} from '../../../functions/shared/provider/bedrock/bedrock-provider.ts';
import {
  ProviderNotFoundError,
  ProviderRateLimitedError,
  ProviderRejectedError,
} from '../../../functions/shared/provider/provider-errors.ts';

const bedrockMock = mockClient(BedrockRuntimeClient);
const s3Mock = mockClient(S3Client);
const BUCKET = 'videos-bucket';
const ARN = 'arn:aws:bedrock:us-east-1:123456789012:async-invoke/abc123';
const JOB_ID = 'job_01KB0000000000000000000000';

const provider = () =>
  new BedrockProvider({
    bedrock: new BedrockRuntimeClient({ region: 'us-east-1' }),
    s3: new S3Client({ region: 'us-east-1' }),
    bucket: BUCKET,
    idleTimeoutMs: 5_000,
  });

const request = {
  prompt: 'A cat playing piano',
  model: 'luma.ray-v2:0',
  size: '720x1280',
  seconds: '9',
  idempotencyKey: `sora-pipeline-${JOB_ID}`,
  jobId: JOB_ID,
};

const serviceError = (Type: new (args: never) => Error, message: string, status: number) =>
  new (Type as unknown as new (args: object) => Error)({
    message,
    $metadata: { httpStatusCode: status },
  });

/** What GetObject's Body offers the provider: a web stream of the bytes. */
const sdkBody = (bytes: Buffer) =>
  ({
    transformToWebStream: () => Readable.toWeb(Readable.from([bytes])),
  }) as never;

beforeEach(() => {
  bedrockMock.reset();
  s3Mock.reset();
});

describe('BedrockProvider.create', () => {
  it('sends Ray2 input, the job id as clientRequestToken and an output prefix of the job', async () => {
    bedrockMock.on(StartAsyncInvokeCommand).resolves({ invocationArn: ARN });

    const video = await provider().create(request);

    expect(video).toMatchObject({ id: ARN, status: 'queued', progress: 0 });
    expect(bedrockMock.commandCalls(StartAsyncInvokeCommand)[0]?.args[0].input).toEqual({
      modelId: 'luma.ray-v2:0',
      modelInput: {
        prompt: 'A cat playing piano',
        aspect_ratio: '9:16',
        resolution: '720p',
        duration: '9s',
        loop: false,
      },
      outputDataConfig: {
        s3OutputDataConfig: { s3Uri: `s3://${BUCKET}/bedrock-output/${JOB_ID}/` },
      },
      clientRequestToken: 'job-01KB0000000000000000000000',
    });
  });

  it('refuses a size Ray2 does not render without calling Bedrock', async () => {
    const error = await provider()
      .create({ ...request, size: '1920x1080' })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error).toMatchObject({ code: 'invalid_request', param: 'size' });
    expect(bedrockMock.commandCalls(StartAsyncInvokeCommand)).toEqual([]);
  });

  it.each([
    [ThrottlingException, 429, ProviderRateLimitedError, 'rate_limited'],
    [ServiceQuotaExceededException, 400, ProviderRateLimitedError, 'service_quota_exceeded'],
    [AccessDeniedException, 403, ProviderRejectedError, 'forbidden'],
    [ValidationException, 400, ProviderRejectedError, 'invalid_request'],
  ] as const)('maps %o to the usual error and code', async (Type, status, Expected, code) => {
    bedrockMock.on(StartAsyncInvokeCommand).rejects(serviceError(Type, 'no', status));

    const error = await provider()
      .create(request)
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(Expected);
    expect(error).toMatchObject({ code, status });
    expect((error as Error).message).toMatch(new RegExp(`\\(${status} ${code},`));
  });
});

describe('BedrockProvider.retrieve', () => {
  it.each([
    ['InProgress', 'in_progress', 0],
    ['Completed', 'completed', 100],
  ] as const)('maps %s to %s at %i%%', async (status, expected, progress) => {
    bedrockMock.on(GetAsyncInvokeCommand).resolves({
      invocationArn: ARN,
      modelArn: 'arn:aws:bedrock:us-east-1::foundation-model/luma.ray-v2:0',
      status,
      submitTime: new Date('2026-11-30T12:00:00Z'),
      clientRequestToken: 't',
      outputDataConfig: undefined,
    });

    const video = await provider().retrieve(ARN);

    expect(video).toMatchObject({ id: ARN, status: expected, progress, model: 'luma.ray-v2:0' });
  });

  it('maps Failed with its failure message to a coded error', async () => {
    bedrockMock.on(GetAsyncInvokeCommand).resolves({
      invocationArn: ARN,
      modelArn: 'm',
      status: 'Failed',
      failureMessage: 'The output was blocked by our content filters.',
      submitTime: new Date(),
      clientRequestToken: 't',
      outputDataConfig: undefined,
    });

    const video = await provider().retrieve(ARN);

    expect(video.error).toEqual({
      code: 'moderation_blocked',
      message: 'The output was blocked by our content filters.',
    });
  });
});

describe('failureCode', () => {
  it.each([
    ['Internal server error', 'video_generation_failed'],
    ['Rate exceeded: throttling', 'rate_limited'],
    ['Service quota exceeded', 'service_quota_exceeded'],
    ['Access denied writing to s3://bucket/prefix', 'forbidden'],
    ['Invalid input', 'invalid_request'],
  ])('reads %j as %s', (message, code) => {
    expect(failureCode(message)).toBe(code);
  });
});

describe('BedrockProvider.findCreatedJob', () => {
  it('finds the invocation by the job clientRequestToken, skipping claimed ones', async () => {
    const token = bedrockClientRequestToken(JOB_ID);
    bedrockMock.on(ListAsyncInvokesCommand).resolves({
      asyncInvokeSummaries: [
        {
          invocationArn: `${ARN}-other`,
          clientRequestToken: 'job-someone-else',
          modelArn: 'm',
          submitTime: new Date(),
          outputDataConfig: undefined,
        },
        {
          invocationArn: ARN,
          clientRequestToken: token,
          modelArn: 'm',
          status: 'InProgress',
          submitTime: new Date(),
          outputDataConfig: undefined,
        },
      ],
    });

    const found = await provider().findCreatedJob({
      ...request,
      createdAfter: new Date('2026-11-30T12:00:00Z'),
    });
    const excluded = await provider().findCreatedJob({
      ...request,
      createdAfter: new Date('2026-11-30T12:00:00Z'),
      excludeIds: [ARN],
    });

    expect(found?.id).toBe(ARN);
    expect(excluded).toBeUndefined();
    expect(bedrockMock.commandCalls(ListAsyncInvokesCommand)[0]?.args[0].input).toMatchObject({
      submitTimeAfter: new Date('2026-11-30T11:59:30Z'),
      sortOrder: 'Descending',
    });
  });
});

describe('BedrockProvider content', () => {
  const completed = (s3Uri: string) =>
    bedrockMock.on(GetAsyncInvokeCommand).resolves({
      invocationArn: ARN,
      modelArn: 'm',
      status: 'Completed',
      submitTime: new Date(),
      clientRequestToken: 't',
      outputDataConfig: { s3OutputDataConfig: { s3Uri } },
    });

  it('streams the MP4 Bedrock wrote under the job prefix, with its length', async () => {
    completed(`s3://${BUCKET}/bedrock-output/${JOB_ID}/`);
    const key = `bedrock-output/${JOB_ID}/abc123/output.mp4`;
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [{ Key: `bedrock-output/${JOB_ID}/abc123/manifest.json` }, { Key: key }],
    });
    s3Mock
      .on(GetObjectCommand, { Bucket: BUCKET, Key: key })
      .resolves({ Body: sdkBody(Buffer.from('mp4!')), ContentLength: 4 });

    const content = await provider().downloadContent(ARN);
    const chunks: Buffer[] = [];
    for await (const chunk of content.stream) chunks.push(Buffer.from(chunk));

    expect(content).toMatchObject({ contentLength: 4, contentType: 'video/mp4' });
    expect(Buffer.concat(chunks).toString()).toBe('mp4!');
  });

  it('never reads outside the bucket prefix the invocation was given', async () => {
    completed('s3://someone-elses-bucket/private/');

    const error = await provider()
      .downloadContent(ARN)
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(s3Mock.calls()).toEqual([]);
  });

  it('has no thumbnail or spritesheet', async () => {
    await expect(provider().downloadContent(ARN, 'thumbnail')).rejects.toBeInstanceOf(
      ProviderNotFoundError,
    );
  });

  it('discards every object Bedrock wrote for the invocation', async () => {
    completed(`s3://${BUCKET}/bedrock-output/${JOB_ID}/`);
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: `bedrock-output/${JOB_ID}/a/output.mp4` },
        { Key: `bedrock-output/${JOB_ID}/a/m.json` },
      ],
    });
    s3Mock.on(DeleteObjectsCommand).resolves({});

    await provider().discardContent(ARN);

    expect(s3Mock.commandCalls(DeleteObjectsCommand)[0]?.args[0].input).toEqual({
      Bucket: BUCKET,
      Delete: {
        Objects: [
          { Key: `bedrock-output/${JOB_ID}/a/output.mp4` },
          { Key: `bedrock-output/${JOB_ID}/a/m.json` },
        ],
        Quiet: true,
      },
    });
  });
});

describe('BedrockProvider.delete', () => {
  it('cannot cancel an invocation: it says so and calls nothing', async () => {
    const result = await provider().delete(ARN);

    expect(result).toEqual({ id: ARN, deleted: false });
    expect(bedrockMock.calls()).toEqual([]);
    expect(s3Mock.calls()).toEqual([]);
  });
});

describe('what Ray2 on Bedrock does not do', () => {
  it('refuses a remix and a reference image without calling Bedrock', async () => {
    const remix = await provider()
      .remix(ARN, { prompt: 'again', idempotencyKey: 'k' })
      .catch((caught: unknown) => caught);
    const withImage = await provider()
      .create({ ...request, inputReference: { imageUrl: 'https://example.com/cat.png' } })
      .catch((caught: unknown) => caught);

    expect(remix).toBeInstanceOf(ProviderRejectedError);
    expect(withImage).toMatchObject({
      name: 'ProviderRejectedError',
      code: 'unsupported_by_model',
    });
    expect(bedrockMock.calls()).toEqual([]);
  });
});
