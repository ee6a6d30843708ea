import { Readable } from 'node:stream';
import { type ProviderError, ProviderTransientError } from './provider-errors.ts';

/** Chunks read ahead of the consumer: about a megabyte at the 64 KiB an HTTP body arrives in. */
const READ_AHEAD_CHUNKS = 16;

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
  return new GuardedBody(body, options);
}

/**
 * Reads the body's web stream directly, as `Readable.fromWeb` does, with no async generator
 * between the reader and the Node stream. Each `_read` pulls chunks until the read-ahead is full:
 * 16 chunks (about a megabyte) let the next ones arrive while the upload works (reading one chunk
 * at a time, only once asked, made a download run at ~0.6x a bare upload), and memory stays
 * bounded. Object mode hands the chunks over one by one, as they came: a byte stream read by an
 * async iterator joins everything buffered into a fresh Buffer, a copy of the bytes that waited
 * while the consumer was busy with S3.
 */
class GuardedBody extends Readable {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  readonly #options: GuardContentOptions;
  readonly #watchdog: ReturnType<typeof stallWatchdog> | undefined;
  #received = 0;
  #pulling = false;
  #readRequested = false;
  #finished = false;

  constructor(body: ReadableStream<Uint8Array> | null, options: GuardContentOptions) {
    super({ objectMode: true, highWaterMark: READ_AHEAD_CHUNKS });
    this.#options = options;
    if (body) {
      this.#reader = body.getReader();
      this.#watchdog = stallWatchdog(options.idleTimeoutMs, this.#reader);
    }
  }

  override _read(): void {
    // Called again once a push is taken while the loop below still runs: it reads on anyway.
    if (this.#pulling) {
      this.#readRequested = true;
      return;
    }
    this.#pulling = true;
    this.#pull().catch((error: unknown) => this.destroy(error as Error));
  }

  /** Reads until the buffer is full (and no read is pending) or the body ends. */
  async #pull(): Promise<void> {
    try {
      const reader = this.#reader;
      const expected = this.#options.expectedLength;
      if (reader && this.#watchdog) {
        while (true) {
          let result: Awaited<ReturnType<typeof reader.read>>;
          try {
            this.#watchdog.reading();
            result = await reader.read();
            this.#watchdog.check();
          } catch (error) {
            throw this.#options.classify(error);
          }
          if (this.destroyed) return;
          if (result.done) break;
          this.#watchdog.sawData();
          this.#received += result.value.byteLength;
          if (expected !== undefined && this.#received > expected) {
            throw this.#options.classify(
              lengthMismatch(this.#received, expected, 'download_oversized'),
            );
          }
          this.#readRequested = false;
          const { buffer, byteOffset, byteLength } = result.value;
          const chunk = Buffer.from(buffer, byteOffset, byteLength);
          if (!this.push(chunk) && !this.#readRequested) return;
        }
      }
      this.#finished = true;
      this.#watchdog?.stop();
      reader?.releaseLock();
      if (expected !== undefined && this.#received !== expected) {
        throw lengthMismatch(this.#received, expected, 'download_truncated');
      }
      this.push(null);
    } finally {
      this.#pulling = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#watchdog?.stop();
    if (this.#finished || !this.#reader) {
      callback(error);
      return;
    }
    // Cancels the HTTP body (and ends a pending read).
    this.#reader.cancel(error ?? undefined).then(
      () => callback(error),
      () => callback(error),
    );
  }
}

/**
 * One timer for the whole body, not one per chunk: a read stamps the time it started, and a timer
 * ticking every half idle period cancels a body whose pending read has waited too long (detected
 * between 1x and 1.5x the idle timeout). Only a pending read counts: while the read-ahead is full
 * and the consumer is busy (a slow S3 part), the provider is not stalled. A per-chunk
 * `Promise.race` with a fresh `setTimeout` cost a timer and two promises for every 64 KB.
 */
function stallWatchdog(idleTimeoutMs: number, reader: ReadableStreamDefaultReader<Uint8Array>) {
  let readingSince: number | undefined;
  let stalled: ProviderTransientError | undefined;
  const timer = setInterval(
    () => {
      if (readingSince === undefined || performance.now() - readingSince < idleTimeoutMs) return;
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
    reading() {
      readingSince = performance.now();
    },
    sawData() {
      readingSince = undefined;
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
