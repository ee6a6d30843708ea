// Operating the pipeline, end to end on the local stack: job state-change events on the bus, and
// no prompt in any log line, even when the provider's error quotes it.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { JobEventDetail } from '../../functions/shared/events/job-events.ts';
import type { LocalBusEvent } from '../../infra/local/local-event-bus.ts';
import type { LocalStack } from '../../infra/local/local-stack.ts';
import { type StackClient, stackClient } from './local-stack-client.ts';

const SPEED = 50;
// Distinctive words, so a hit in the logs can only come from the prompts.
const FAILING_PROMPT = 'A saffron zeppelin over the quarry [moderation-block]';
const PROMPT_WORDS = ['saffron', 'zeppelin', 'quarry', 'periwinkle', 'lighthouse keeper'];

let stack: LocalStack;
let client: StackClient;
/** Every chunk written to stdout or stderr, and every console call, while the stack ran. */
const written: string[] = [];

beforeAll(async () => {
  // The handlers' logger is built when their modules load: at INFO, as deployed.
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  const capture = (chunk: unknown, ...rest: unknown[]): boolean => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      written.push(
        args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '),
      );
    });
  }
  const { startLocalStack } = await import('../../infra/local/local-stack.ts');
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    simulator: { quotePromptInErrors: true },
    logLevel: 'INFO',
  });
  client = stackClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  vi.restoreAllMocks();
});

const eventsOf = (jobId: string): JobEventDetail[] =>
  stack
    .busEvents()
    .map((event: LocalBusEvent) => event.detail as JobEventDetail)
    .filter((detail) => detail.jobId === jobId);

describe('job events', () => {
  it('are put on the bus for each state change of a completed job, the last with its video', async () => {
    const jobId = await client.submit({ prompt: 'A periwinkle kite above the dunes' });
    await client.executionEnd(jobId);
    const record = await client.jobRecord(jobId);

    const events = eventsOf(jobId);

    expect(events.map((event) => event.status)).toEqual(['queued', 'started', 'completed']);
    expect(events[2]).toMatchObject({
      version: '1',
      source: 'api',
      error: null,
      video: { bucket: stack.bucket, key: (record?.result as { key?: string } | undefined)?.key },
    });
    expect(
      stack.busEvents().find((event) => (event.detail as JobEventDetail).jobId === jobId),
    ).toMatchObject({ source: 'sora-pipeline', 'detail-type': 'Video Job State Changed' });
  });

  it('report a failed job with its code and no message', async () => {
    const jobId = await client.submit({ prompt: FAILING_PROMPT });
    await client.executionEnd(jobId);

    const events = eventsOf(jobId);

    expect(events.map((event) => event.status)).toEqual(['queued', 'started', 'failed']);
    expect(events[2]?.error).toEqual({ code: 'moderation_blocked', retryable: false });
  });
});

describe('logs', () => {
  it('never hold a prompt or a secret, even when the provider error quoting the prompt fails a job', async () => {
    const jobId = await client.submit({ prompt: `The lighthouse keeper waves ${FAILING_PROMPT}` });
    const execution = await client.executionEnd(jobId);
    const record = await client.jobRecord(jobId);
    const lines = written
      .join('')
      .split('\n')
      .concat(written)
      .filter((line) => line.trim() !== '');

    // The scan sees the handlers' INFO and WARN lines (it is live), including this failure.
    expect(lines.some((line) => line.includes('"Provider job created"'))).toBe(true);
    expect(
      lines.some(
        (line) =>
          line.includes('"Task failed"') &&
          line.includes(jobId) &&
          line.includes('moderation_blocked'),
      ),
    ).toBe(true);
    for (const word of PROMPT_WORDS) {
      expect(lines.filter((line) => line.toLowerCase().includes(word))).toEqual([]);
    }
    // Nor a secret: the provider's key, the API's bearer token.
    const secrets = [stack.simulator?.knobs.apiKey, stack.token].filter(
      (secret): secret is string => typeof secret === 'string' && secret.length > 8,
    );
    expect(secrets).toHaveLength(2);
    for (const secret of secrets) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
    // What Lambda itself logs of a failed invocation (the error's message) and what the execution
    // keeps as its cause.
    expect(`${execution.error} ${execution.cause}`).not.toMatch(/zeppelin|lighthouse/i);
    expect(JSON.stringify(record?.error)).not.toMatch(/zeppelin|lighthouse/i);
    expect(record?.error).toMatchObject({ code: 'moderation_blocked' });
  });
});
