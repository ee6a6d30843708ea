import type { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { guardContentStream } from '../../../functions/shared/provider/content-stream.ts';
import {
  classifyProviderError,
  ProviderError,
  ProviderTransientError,
} from '../../../functions/shared/provider/provider-errors.ts';

const classify = (error: unknown) => classifyProviderError(error, { operation: 'download' });

function bodyOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function drain(stream: Readable): Promise<{ bytes: number; error?: ProviderError }> {
  let bytes = 0;
  try {
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
  } catch (error) {
    if (error instanceof ProviderError) return { bytes, error };
    throw error;
  }
  return { bytes };
}

describe('guardContentStream', () => {
  it('passes every byte through when the length matches', async () => {
    // Prepare
    const stream = guardContentStream(bodyOf([new Uint8Array(3), new Uint8Array(4)]), {
      expectedLength: 7,
      idleTimeoutMs: 1_000,
      classify,
    });

    // Act
    const result = await drain(stream);

    // Assess
    expect(result).toEqual({ bytes: 7 });
  });

  it('hands the chunks over one by one as they came, even when several were read ahead', async () => {
    // Prepare: all three chunks are read ahead before the consumer asks.
    const stream = guardContentStream(
      bodyOf([new Uint8Array(3), new Uint8Array(4), new Uint8Array(5)]),
      { expectedLength: 12, idleTimeoutMs: 1_000, classify },
    );
    await expect
      .poll(() => {
        stream.read(0);
        return stream.readableLength;
      })
      .toBe(3);

    // Act
    const sizes: number[] = [];
    for await (const chunk of stream) sizes.push((chunk as Buffer).length);

    // Assess: not joined into one fresh buffer (a copy of every byte that waited).
    expect(sizes).toEqual([3, 4, 5]);
  });

  it('does not count the time the consumer is busy as a stall', async () => {
    // Prepare: a body with more than the read-ahead to give; the clock is the test's.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 40) controller.close();
        else {
          sent += 1;
          controller.enqueue(new Uint8Array(1024));
        }
      },
    });
    const stream = guardContentStream(body, {
      expectedLength: 40 * 1024,
      idleTimeoutMs: 100,
      classify,
    });
    const chunks = stream[Symbol.asyncIterator]();
    await chunks.next();
    await expect.poll(() => stream.readableLength).toBe(16);

    // Act: the consumer takes ten idle timeouts before asking for more (a slow S3 part).
    vi.advanceTimersByTime(1_000);
    vi.useRealTimers();
    let bytes = 1024;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      bytes += (next.value as Buffer).length;
    }

    // Assess
    expect(bytes).toBe(40 * 1024);
  });

  it('accepts any length when the provider sent no Content-Length', async () => {
    const stream = guardContentStream(bodyOf([new Uint8Array(5)]), {
      expectedLength: undefined,
      idleTimeoutMs: 1_000,
      classify,
    });
    expect(await drain(stream)).toEqual({ bytes: 5 });
  });

  it('errors with download_truncated when a body ends cleanly but short', async () => {
    // Prepare
    const stream = guardContentStream(bodyOf([new Uint8Array(5)]), {
      expectedLength: 10,
      idleTimeoutMs: 1_000,
      classify,
    });

    // Act
    const { error } = await drain(stream);

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error?.code).toBe('download_truncated');
  });

  it('errors with download_oversized when a body runs past its Content-Length', async () => {
    const stream = guardContentStream(bodyOf([new Uint8Array(6), new Uint8Array(6)]), {
      expectedLength: 10,
      idleTimeoutMs: 1_000,
      classify,
    });
    const { error } = await drain(stream);
    expect(error?.code).toBe('download_oversized');
  });

  it('maps a body read error to ProviderTransientError', async () => {
    // Prepare
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new TypeError('terminated'));
      },
    });
    const stream = guardContentStream(body, { expectedLength: 10, idleTimeoutMs: 1_000, classify });

    // Act
    const { error } = await drain(stream);

    // Assess
    expect(error).toBeInstanceOf(ProviderTransientError);
  });

  it('cancels the HTTP body when the consumer destroys the stream', async () => {
    // Prepare
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(1024));
      },
      cancel() {
        cancelled = true;
      },
    });
    const stream = guardContentStream(body, {
      expectedLength: undefined,
      idleTimeoutMs: 1_000,
      classify,
    });

    // Act
    for await (const _chunk of stream) break;

    // Assess
    await expect.poll(() => cancelled).toBe(true);
  });
});
