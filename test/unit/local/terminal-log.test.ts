import { describe, expect, it } from 'vitest';
import {
  InProcessLambdas,
  type LambdaHandler,
  noteInvocationJobId,
} from '../../../infra/local/in-process-lambdas.ts';
import type { LocalFunctionSpec } from '../../../infra/local/local-resources.ts';
import {
  compactHandlerLogs,
  compactLogLine,
  executionEndLine,
  webhookDeliveryLine,
} from '../../../infra/local/terminal-log.ts';

// A Powertools line as the create task logs a moderation refusal (shortened stacks).
const TASK_FAILED = JSON.stringify({
  level: 'WARN',
  message: 'Task failed',
  timestamp: '2026-11-30T18:49:58.431Z',
  service: 'sora-pipeline',
  function_name: 'CreateProviderJobFunctionA9FAAD68',
  jobId: 'job_01',
  error: {
    name: 'ProviderRejectedError',
    location: 'file:///x/provider-errors.ts:254',
    message: 'create: rejected by the provider (400 moderation_blocked): blocked',
    stack: 'ProviderRejectedError: create...\n    at classifyStatus (file:///x:1:1)',
    cause: { name: 'BadRequestError', stack: 'BadRequestError\n    at y' },
    code: 'moderation_blocked',
  },
});

describe('compactLogLine', () => {
  it('turns a handler JSON log line into one short line with the error code and no stack', () => {
    expect(compactLogLine(TASK_FAILED)).toBe(
      'WARN CreateProviderJob job_01: Task failed: ProviderRejectedError moderation_blocked: create: rejected by the provider (400 moderation_blocked): blocked',
    );
  });

  it('names what failed when a provider error is logged without its message (it can quote the prompt)', () => {
    const line = JSON.stringify({
      level: 'WARN',
      message: 'Task failed',
      function_name: 'CreateProviderJobFunctionA9FAAD68',
      jobId: 'job_01',
      error: {
        name: 'ProviderRejectedError',
        code: 'moderation_blocked',
        status: 400,
        operation: 'create',
        retryable: false,
      },
    });

    expect(compactLogLine(line)).toBe(
      'WARN CreateProviderJob job_01: Task failed: ProviderRejectedError moderation_blocked (create, HTTP 400)',
    );
  });

  it('names the function and job of the invocation that wrote the line, not the keys it carries', () => {
    const line = JSON.stringify({
      level: 'WARN',
      message: 'Task failed',
      function_name: 'DownloadVideoFunction0B1C2D3E',
      jobId: 'job_other',
      error: { name: 'ProviderRejectedError', code: 'moderation_blocked' },
    });

    expect(
      compactLogLine(line, {
        functionName: 'CreateProviderJobFunctionA9FAAD68',
        jobId: 'job_blocked',
      }),
    ).toBe(
      'WARN CreateProviderJob job_blocked: Task failed: ProviderRejectedError moderation_blocked',
    );
    expect(compactLogLine(line, { functionName: 'ApiFunction12345678' })).toBe(
      'WARN Api: Task failed: ProviderRejectedError moderation_blocked',
    );
  });

  it('escapes control characters a logged message quotes (a prompt, a provider message)', () => {
    const line = JSON.stringify({ level: 'WARN', message: 'Prompt \u001b]0;x\u0007 refused' });

    expect(compactLogLine(line)).toBe('WARN: Prompt \\x1b]0;x\\x07 refused');
  });

  it('leaves lines that are not log lines alone', () => {
    expect(compactLogLine('  job job_01: SUCCEEDED after 3.0 s')).toBeUndefined();
    expect(compactLogLine('{"level": broken')).toBeUndefined();
  });
});

describe('executionEndLine', () => {
  const execution = {
    name: 'job_01',
    status: 'FAILED',
    error: 'ProviderRejectedError',
    startDate: new Date('2026-01-01T00:00:00Z'),
    stopDate: new Date('2026-01-01T00:00:10Z'),
  };

  it("shows the job's error code and message rather than the error class", () => {
    const line = executionEndLine(
      execution,
      { status: 'FAILED', error: { code: 'moderation_blocked', message: 'blocked' } },
      10,
    );

    expect(line).toBe(
      '  job job_01: FAILED moderation_blocked: blocked after 10.0 s (1.0 s real)\n',
    );
  });

  it("escapes control characters in the job's error message", () => {
    const line = executionEndLine(
      execution,
      { status: 'FAILED', error: { code: 'provider_error', message: '\u001b[2K\rall fine' } },
      1,
    );

    expect(line).toBe('  job job_01: FAILED provider_error: \\x1b[2K\\rall fine after 10.0 s\n');
  });

  it("falls back to the execution's error when the job cannot be read", () => {
    expect(executionEndLine(execution, undefined, 1)).toBe(
      '  job job_01: FAILED (ProviderRejectedError) after 10.0 s\n',
    );
  });
});

describe('compactHandlerLogs with concurrent in-process invocations', () => {
  /** One logger shared by every function, as in the local stack's one process. */
  function sharedLogger(write: (line: string) => void) {
    const keys: Record<string, unknown> = {};
    return {
      appendKeys(added: Record<string, unknown>) {
        Object.assign(keys, added);
        noteInvocationJobId(added.jobId);
      },
      warn(message: string, extra: Record<string, unknown>) {
        write(`${JSON.stringify({ level: 'WARN', message, ...keys, ...extra })}\n`);
      },
    };
  }

  const spec = (logicalId: string): LocalFunctionSpec =>
    ({
      logicalId,
      handlerModule: `${logicalId}.ts`,
      timeoutSeconds: 30,
      memorySize: 128,
      environment: {},
    }) as unknown as LocalFunctionSpec;

  it("shows each line under the function and job that wrote it, whatever the logger's keys say", async () => {
    const written: string[] = [];
    const stream = {
      write: (chunk: string) => {
        written.push(chunk);
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const restore = compactHandlerLogs(stream);
    const logger = sharedLogger((line) => stream.write(line));
    // The create task refuses its job while another job's download runs: the download sets the
    // shared keys after the create set its own, before the create logs its failure.
    let downloadStarted: () => void = () => {};
    const downloading = new Promise<void>((resolve) => {
      downloadStarted = resolve;
    });
    let finishDownload: () => void = () => {};
    const handlers: Record<string, LambdaHandler> = {
      CreateProviderJobFunctionA9FAAD68: async (event) => {
        logger.appendKeys({ function_name: 'CreateProviderJobFunctionA9FAAD68' });
        logger.appendKeys({ jobId: (event as { jobId: string }).jobId });
        await downloading;
        logger.warn('Task failed', {
          error: { name: 'ProviderRejectedError', code: 'moderation_blocked' },
        });
      },
      DownloadVideoFunction0B1C2D3E: async (event) => {
        logger.appendKeys({ function_name: 'DownloadVideoFunction0B1C2D3E' });
        logger.appendKeys({ jobId: (event as { jobId: string }).jobId });
        downloadStarted();
        await new Promise<void>((resolve) => {
          finishDownload = resolve;
        });
      },
      ApiFunction12345678: async () => {
        // The API learns the job from the request's path, midway.
        logger.appendKeys({ function_name: 'ApiFunction12345678', jobId: 'job_asked' });
        logger.warn('Not found', {});
      },
    };
    const lambdas = new InProcessLambdas(
      new Map(Object.keys(handlers).map((name) => [name, spec(name)])),
      {
        projectRoot: '/',
        loadHandler: async (path) => handlers[path.replace(/^\/|\.ts$/g, '')] as LambdaHandler,
      },
    );

    const create = lambdas.invoke('CreateProviderJobFunctionA9FAAD68', { jobId: 'job_blocked' });
    const download = lambdas.invoke('DownloadVideoFunction0B1C2D3E', { jobId: 'job_completed' });
    await create;
    finishDownload();
    await download;
    await lambdas.invoke('ApiFunction12345678', { rawPath: '/videos/job_asked' });
    restore();

    expect(written).toEqual([
      '  ! WARN CreateProviderJob job_blocked: Task failed: ProviderRejectedError moderation_blocked\n',
      '  ! WARN Api job_asked: Not found\n',
    ]);
  });
});

describe('webhookDeliveryLine', () => {
  const input = JSON.stringify({
    jobId: 'job_01',
    client: 'default',
    webhookId: 'msg_job_01_video_failed',
    url: 'http://127.0.0.1:9/hook',
    payload: { type: 'video.failed', data: {} },
  });
  const dates = {
    startDate: new Date('2026-01-01T00:00:00Z'),
    stopDate: new Date('2026-01-01T00:00:01Z'),
  };

  it("says the event was delivered, naming its job, never the job's own outcome", () => {
    expect(webhookDeliveryLine({ status: 'SUCCEEDED', input, output: input, ...dates }, 1)).toBe(
      '  webhook video.failed of job job_01: delivered after 1.0 s\n',
    );
  });

  it('says when every attempt failed, and when the delivery itself failed', () => {
    const output = JSON.stringify({
      ...JSON.parse(input),
      error: { Error: 'WebhookDeliveryError', Cause: '...' },
    });

    expect(webhookDeliveryLine({ status: 'SUCCEEDED', input, output, ...dates }, 1)).toBe(
      '  webhook video.failed of job job_01: not delivered, given up (WebhookDeliveryError) after 1.0 s\n',
    );
    expect(
      webhookDeliveryLine({ status: 'FAILED', error: 'States.Timeout', input, ...dates }, 10),
    ).toBe(
      '  webhook video.failed of job job_01: not delivered: FAILED (States.Timeout) after 1.0 s (0.1 s real)\n',
    );
  });

  it('has no line for an execution that is not a delivery', () => {
    expect(
      webhookDeliveryLine({ status: 'SUCCEEDED', input: '{"jobId":"job_01"}', ...dates }, 1),
    ).toBeUndefined();
  });
});
