import { describe, expect, it } from 'vitest';
import { compactLogLine, executionEndLine } from '../../../infra/local/terminal-log.ts';

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
