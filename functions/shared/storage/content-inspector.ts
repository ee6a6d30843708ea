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

/** The checks of `inspectContent` without a stream: the caller hands every chunk over. */
export interface ContentCheck {
  /** Counts and hashes a chunk; throws when it breaks a check (signature, longer than announced). */
  add(chunk: Uint8Array): void;
  /** Throws when the whole is wrong (no signature, shorter than announced); else count and digest. */
  end(): InspectedContent;
}

/**
 * Counts and hashes bytes on their way to storage (each byte hashed once, as it arrives), checks
 * the leading signature on the first bytes only, and compares the total against the announced
 * Content-Length.
 */
export function checkContent(options: {
  expectedLength: number | undefined;
  signature?: ContentSignature | undefined;
}): ContentCheck {
  const { expectedLength, signature } = options;
  const hash = createHash('sha256');
  let bytes = 0;
  let head: Buffer | undefined = signature ? Buffer.alloc(0) : undefined;

  const checkHead = (final: boolean): void => {
    if (!signature || head === undefined) return;
    if (head.length < signature.bytes && !final) return;
    const seen = head;
    head = undefined;
    if (seen.length >= signature.bytes && signature.matches(seen)) return;
    const shown = seen.length === 0 ? 'the body is empty' : `it starts 0x${seen.toString('hex')}`;
    throw new InvalidContentError(`content is not ${signature.description}: ${shown}`);
  };

  return {
    add(chunk) {
      bytes += chunk.byteLength;
      if (expectedLength !== undefined && bytes > expectedLength) {
        throw lengthError(bytes, expectedLength, 'download_oversized');
      }
      if (head !== undefined && signature) {
        const needed = signature.bytes - head.length;
        head = Buffer.concat([head, chunk.subarray(0, needed)]);
        checkHead(false);
      }
      hash.update(chunk);
    },
    end() {
      checkHead(true);
      if (expectedLength !== undefined && bytes !== expectedLength) {
        throw lengthError(bytes, expectedLength, 'download_truncated');
      }
      return { bytes, sha256: hash.digest('hex') };
    },
  };
}

/**
 * The same checks as a pass-through stream. The checks fail the stream before its end is
 * signalled, so an upload reading from it never completes with bad content.
 */
export function inspectContent(options: {
  expectedLength: number | undefined;
  signature?: ContentSignature | undefined;
}): ContentInspector {
  const check = checkContent(options);
  let inspected: InspectedContent | undefined;

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        check.add(chunk);
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      try {
        inspected = check.end();
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback();
    },
  });

  return {
    stream,
    result() {
      if (inspected === undefined) throw new Error('content inspection has not finished');
      return inspected;
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
