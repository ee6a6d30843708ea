import { Readable } from 'node:stream';
import { type ProviderError, ProviderTransientError } from './provider-errors.ts';

const READ_AHEAD_BYTES = 1024 * 1024;

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
  // Readable.from's default high-water mark is 1 (byte, here): the body would be read one chunk
  // at a time, only once the consumer asked, and a download ran at ~0.6x a bare upload. A
  // megabyte lets the next chunks arrive while the upload works; memory stays bounded.
  return Readable.from(readGuarded(body, options), {
    objectMode: false,
    highWaterMark: READ_AHEAD_BYTES,
  });
}

async function* readGuarded(
  body: ReadableStream<Uint8Array> | null,
  options: GuardContentOptions,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  if (body) {
    const reader = body.getReader();
    const watchdog = stallWatchdog(options.idleTimeoutMs, reader);
    let finished = false;
    try {
      while (true) {
        const result = await reader.read();
        watchdog.check();
        if (result.done) break;
        watchdog.sawData();
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
      watchdog.stop();
      if (finished) reader.releaseLock();
      else await reader.cancel().catch(() => undefined);
    }
  }
  if (options.expectedLength !== undefined && received !== options.expectedLength) {
    throw lengthMismatch(received, options.expectedLength, 'download_truncated');
  }
}

/**
 * One timer for the whole body, not one per chunk: a chunk only stamps the time, and a timer
 * ticking every half idle period cancels a body that went quiet (detected between 1x and 1.5x
 * the idle timeout). A per-chunk `Promise.race` with a fresh `setTimeout` cost a timer and two
 * promises for every 64 KB.
 */
function stallWatchdog(idleTimeoutMs: number, reader: ReadableStreamDefaultReader<Uint8Array>) {
  let lastDataAt = performance.now();
  let stalled: ProviderTransientError | undefined;
  const timer = setInterval(
    () => {
      if (performance.now() - lastDataAt < idleTimeoutMs) return;
      const message = `download: no data for ${idleTimeoutMs} ms`;
      stalled = new ProviderTransientError(message, {
        code: 'download_stalled',
        providerMessage: message,
        operation: 'download',
      });
      // Ends the pending read (done), which check() then turns into the stall error.
      void reader.cancel(stalled).catch(() => undefined);
    },
    Math.max(1, Math.floor(idleTimeoutMs / 2)),
  );
  return {
    sawData() {
      lastDataAt = performance.now();
    },
    check() {
      if (stalled) throw stalled;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

function lengthMismatch(received: number, expected: number, code: string): ProviderTransientError {
  const message = `download: received ${received} bytes, Content-Length said ${expected}`;
  return new ProviderTransientError(message, {
    code,
    providerMessage: message,
    operation: 'download',
  });
}
