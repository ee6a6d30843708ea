import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ProviderTransientError } from '../provider/provider-errors.ts';
import { InvalidContentError } from './storage-errors.ts';

/** What the first bytes of a payload must look like. */
export interface ContentSignature {
  /** How many leading bytes `matches` needs. */
  bytes: number;
  matches(head: Buffer): boolean;
  /** For error messages: "an MP4 (ISO-BMFF) file". */
  description: string;
}

/** ISO-BMFF (MP4, MOV): the file opens with an `ftyp` box (32-bit size, then the type). */
export const MP4_SIGNATURE: ContentSignature = {
  bytes: 8,
  matches: (head) => head.readUInt32BE(0) >= 8 && head.toString('latin1', 4, 8) === 'ftyp',
  description: "an MP4 (ISO-BMFF) file starting with an 'ftyp' box",
};

export interface InspectedContent {
  bytes: number;
  /** Lowercase hex. */
  sha256: string;
}

export interface ContentInspector {
  /** Pass-through stream: errors (and so stops the upload) on a bad signature or wrong length. */
  stream: Transform;
  /** Byte count and digest; valid once the stream has ended. */
  result(): InspectedContent;
}

/**
 * Counts and hashes bytes on their way to storage, checks the leading signature, and compares
 * the total against the announced Content-Length. The checks fail the stream before its end is
 * signalled, so an upload reading from it never completes with bad content.
 */
export function inspectContent(options: {
  expectedLength: number | undefined;
  signature?: ContentSignature | undefined;
}): ContentInspector {
  const { expectedLength, signature } = options;
  const hash = createHash('sha256');
  let bytes = 0;
  let head: Buffer | undefined = signature ? Buffer.alloc(0) : undefined;
  let digest: string | undefined;

  const checkHead = (final: boolean): InvalidContentError | undefined => {
    if (!signature || head === undefined) return undefined;
    if (head.length < signature.bytes && !final) return undefined;
    const seen = head;
    head = undefined;
    if (seen.length >= signature.bytes && signature.matches(seen)) return undefined;
    const shown = seen.length === 0 ? 'the body is empty' : `it starts 0x${seen.toString('hex')}`;
    return new InvalidContentError(`content is not ${signature.description}: ${shown}`);
  };

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      if (expectedLength !== undefined && bytes > expectedLength) {
        callback(lengthError(bytes, expectedLength, 'download_oversized'));
        return;
      }
      if (head !== undefined && signature) {
        head = Buffer.concat([head, chunk.subarray(0, signature.bytes - head.length)]);
        const error = checkHead(false);
        if (error) {
          callback(error);
          return;
        }
      }
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      const error =
        checkHead(true) ??
        (expectedLength !== undefined && bytes !== expectedLength
          ? lengthError(bytes, expectedLength, 'download_truncated')
          : undefined);
      if (error) {
        callback(error);
        return;
      }
      digest = hash.digest('hex');
      callback();
    },
  });

  return {
    stream,
    result() {
      if (digest === undefined) throw new Error('content inspection has not finished');
      return { bytes, sha256: digest };
    },
  };
}

function lengthError(received: number, expected: number, code: string): ProviderTransientError {
  const message = `download: received ${received} bytes, Content-Length said ${expected}`;
  return new ProviderTransientError(message, {
    code,
    providerMessage: message,
    operation: 'download',
  });
}
