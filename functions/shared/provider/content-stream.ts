import { Readable } from 'node:stream';
import type { ReadableStreamReadResult } from 'node:stream/web';
import { type ProviderError, ProviderTransientError } from './provider-errors.ts';

export interface GuardContentOptions {
  /** The response's Content-Length, when it sent one. */
  expectedLength: number | undefined;
  /** A body that sends nothing for this long is abandoned as stalled. */
  idleTimeoutMs: number;
  /** Maps a body read error (socket closed, aborted) to a ProviderError. */
  classify: (error: unknown) => ProviderError;
}

/**
 * Wraps a response body in a Node stream that passes chunks through as they arrive (nothing is
 * buffered beyond the stream's high-water mark) and errors with a ProviderTransientError when the
 * body is cut short, stalls, or breaks off, so a consumer catches one type. Destroying the
 * returned stream cancels the HTTP body.
 */
export function guardContentStream(
  body: ReadableStream<Uint8Array> | null,
  options: GuardContentOptions,
): Readable {
  return Readable.from(readGuarded(body, options), { objectMode: false });
}

async function* readGuarded(
  body: ReadableStream<Uint8Array> | null,
  options: GuardContentOptions,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  if (body) {
    const reader = body.getReader();
    let finished = false;
    try {
      while (true) {
        const result = await readWithIdleTimeout(reader, options.idleTimeoutMs);
        if (result.done) break;
        received += result.value.byteLength;
        if (options.expectedLength !== undefined && received > options.expectedLength) {
          throw lengthMismatch(received, options.expectedLength, 'download_oversized');
        }
        yield result.value;
      }
      finished = true;
    } catch (error) {
      throw options.classify(error);
    } finally {
      if (finished) reader.releaseLock();
      else await reader.cancel().catch(() => undefined);
    }
  }
  if (options.expectedLength !== undefined && received !== options.expectedLength) {
    throw lengthMismatch(received, options.expectedLength, 'download_truncated');
  }
}

async function readWithIdleTimeout(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleTimeoutMs: number,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const message = `download: no data for ${idleTimeoutMs} ms`;
      reject(
        new ProviderTransientError(message, {
          code: 'download_stalled',
          providerMessage: message,
          operation: 'download',
        }),
      );
    }, idleTimeoutMs);
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

function lengthMismatch(received: number, expected: number, code: string): ProviderTransientError {
  const message = `download: received ${received} bytes, Content-Length said ${expected}`;
  return new ProviderTransientError(message, {
    code,
    providerMessage: message,
    operation: 'download',
  });
}
