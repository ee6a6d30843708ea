import { createHash } from 'node:crypto';
import {
  BedrockRuntimeClient,
  GetAsyncInvokeCommand,
  ListAsyncInvokesCommand,
  ResourceNotFoundException,
  ServiceUnavailableException,
  StartAsyncInvokeCommand,
  type StartAsyncInvokeCommandInput,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningS3Local, startS3Local } from '../../infra/local/s3-local.ts';
import { simulatedContent } from '../../infra/local/simulator/content.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';

const BUCKET = 'bedrock-outputs';
const clock = { ms: Date.parse('2026-11-30T12:00:00Z') };
let s3Local: RunningS3Local;
let sim: RunningSimulator;
let bedrock: BedrockRuntimeClient;
let s3: S3Client;

beforeAll(async () => {
  s3Local = await startS3Local({ buckets: [BUCKET] });
  sim = await startSimulator({ seed: 11, now: () => clock.ms });
  sim.connectS3(s3Local.endpoint);
  // The official client, unchanged: only the endpoint and (unchecked) credentials are local.
  bedrock = new BedrockRuntimeClient({
    endpoint: sim.bedrockEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
    maxAttempts: 1,
  });
  s3 = new S3Client({
    endpoint: s3Local.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});

afterAll(async () => {
  bedrock?.destroy();
  s3?.destroy();
  await sim?.close();
  await s3Local?.stop();
});

const start = (overrides: Partial<StartAsyncInvokeCommandInput> = {}) =>
  new StartAsyncInvokeCommand({
    modelId: 'luma.ray-v2:0',
    modelInput: {
      prompt: 'A cat playing piano',
      aspect_ratio: '16:9',
      resolution: '720p',
      duration: '5s',
      loop: false,
    },
    outputDataConfig: { s3OutputDataConfig: { s3Uri: `s3://${BUCKET}/bedrock-output/job-1/` } },
    clientRequestToken: 'job-01KB000000000000000000001',
    ...overrides,
  });

describe('the simulator as Bedrock Runtime (official @aws-sdk/client-bedrock-runtime)', () => {
  it('starts one invocation for two StartAsyncInvoke calls with one clientRequestToken', async () => {
    const before = sim.stats.bedrockInvocations.length;

    const first = await bedrock.send(start());
    const second = await bedrock.send(start());

    expect(second.invocationArn).toBe(first.invocationArn);
    expect(first.invocationArn).toMatch(/^arn:aws:bedrock:us-east-1:\d{12}:async-invoke\/\w+$/);
    expect(sim.stats.bedrockInvocations).toHaveLength(before + 1);
  });

  it('reports InProgress, then Completed with the MP4 written at the output URI', async () => {
    const { invocationArn } = await bedrock.send(
      start({ clientRequestToken: 'job-01KB000000000000000000002' }),
    );

    const early = await bedrock.send(new GetAsyncInvokeCommand({ invocationArn }));
    expect(early.status).toBe('InProgress');
    expect(early.submitTime).toBeInstanceOf(Date);
    clock.ms += 10 * 60_000;
    const done = await bedrock.send(new GetAsyncInvokeCommand({ invocationArn }));

    expect(done.status).toBe('Completed');
    expect(done.endTime).toBeInstanceOf(Date);
    expect(done.outputDataConfig?.s3OutputDataConfig?.s3Uri).toBe(
      `s3://${BUCKET}/bedrock-output/job-1/`,
    );
    const id = invocationArn?.split('/').at(-1);
    const object = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: `bedrock-output/job-1/${id}/output.mp4` }),
    );
    const bytes = Buffer.from(await (object.Body?.transformToByteArray() ?? new Uint8Array()));
    // 720p at 16:9 for 5 s: the test pattern at Ray2's frame size and duration.
    const expected = simulatedContent('video', '1280x720', '5');
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      createHash('sha256').update(expected).digest('hex'),
    );
  });

  it('lists invocations newest first with their clientRequestToken', async () => {
    const { invocationArn } = await bedrock.send(
      start({ clientRequestToken: 'job-01KB000000000000000000003' }),
    );

    const listed = await bedrock.send(
      new ListAsyncInvokesCommand({
        submitTimeAfter: new Date(clock.ms - 60_000),
        sortBy: 'SubmissionTime',
        sortOrder: 'Descending',
        maxResults: 10,
      }),
    );

    expect(listed.asyncInvokeSummaries?.[0]).toMatchObject({
      invocationArn,
      clientRequestToken: 'job-01KB000000000000000000003',
      status: 'InProgress',
    });
  });

  it('refuses a Ray2 input Bedrock would refuse, with a ValidationException', async () => {
    const result = bedrock.send(
      start({
        clientRequestToken: 'job-bad-duration',
        modelInput: { prompt: 'x', duration: '7s' },
      }),
    );

    await expect(result).rejects.toBeInstanceOf(ValidationException);
    await expect(result).rejects.toThrow(/modelInput\.duration/);
  });

  it('blocks the moderation marker with a ValidationException and starts nothing', async () => {
    const before = sim.stats.bedrockInvocations.length;

    const result = bedrock.send(
      start({
        clientRequestToken: 'job-moderated',
        modelInput: { prompt: 'a [moderation-block] cat' },
      }),
    );

    await expect(result).rejects.toBeInstanceOf(ValidationException);
    expect(sim.stats.bedrockInvocations).toHaveLength(before);
  });

  it('answers an unknown invocation with ResourceNotFoundException', async () => {
    const result = bedrock.send(
      new GetAsyncInvokeCommand({
        invocationArn: 'arn:aws:bedrock:us-east-1:000000000000:async-invoke/nothing',
      }),
    );

    await expect(result).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('injects the same faults: 503 as ServiceUnavailableException, limits as ThrottlingException', async () => {
    sim.configure({ failNextRequests: 1 });
    await expect(bedrock.send(start({ clientRequestToken: 'job-fault-1' }))).rejects.toBeInstanceOf(
      ServiceUnavailableException,
    );

    sim.configure({ requestsPerMinute: 1 });
    try {
      await bedrock.send(start({ clientRequestToken: 'job-fault-2' }));
      await expect(
        bedrock.send(start({ clientRequestToken: 'job-fault-3' })),
      ).rejects.toBeInstanceOf(ThrottlingException);
    } finally {
      sim.configure({ requestsPerMinute: null });
    }
  });

  it('answers every call with ServiceUnavailableException while unavailable', async () => {
    sim.configure({ unavailable: true });
    try {
      await expect(
        bedrock.send(start({ clientRequestToken: 'job-outage-1' })),
      ).rejects.toBeInstanceOf(ServiceUnavailableException);
      await expect(
        bedrock.send(new ListAsyncInvokesCommand({ maxResults: 1 })),
      ).rejects.toBeInstanceOf(ServiceUnavailableException);
    } finally {
      sim.configure({ unavailable: false });
    }
    const tokens = sim.stats.bedrockInvocations.map((invocation) => invocation.clientRequestToken);
    expect(tokens).not.toContain('job-outage-1');
  });

  it('reports a render failure as Failed with its failure message', async () => {
    const { invocationArn } = await bedrock.send(
      start({
        clientRequestToken: 'job-render-fail',
        modelInput: { prompt: 'a [render-fail] cat' },
      }),
    );
    clock.ms += 10 * 60_000;

    const failed = await bedrock.send(new GetAsyncInvokeCommand({ invocationArn }));

    expect(failed.status).toBe('Failed');
    expect(failed.failureMessage).toMatch(/failed/);
  });
});
