/**
 * Reference images for image-to-video (`input_reference`): what the providers accept (JPEG, PNG,
 * WebP, as large as the video), read from the file's own bytes, never from its name or a
 * declared type. Checked before the job is recorded, so a wrong image costs nothing.
 */
import { ValidationError } from '../jobs/job-errors.ts';

export const REFERENCE_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type ReferenceImageType = (typeof REFERENCE_IMAGE_TYPES)[number];

/** At most this many bytes: a Lambda request payload is 6 MB, base64 adds a third. */
export const MAX_REFERENCE_IMAGE_BYTES = 4 * 1024 * 1024;

/** Where uploaded reference images live in the videos bucket. */
export const UPLOADS_PREFIX = 'uploads/';

export interface ImageInfo {
  contentType: ReferenceImageType;
  width: number;
  height: number;
}

/** Type and dimensions from the image's header, or undefined when it is none of the three. */
export function inspectImage(bytes: Uint8Array): ImageInfo | undefined {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length >= 24 && data.subarray(0, 8).equals(PNG_SIGNATURE)) {
    if (data.toString('latin1', 12, 16) !== 'IHDR') return undefined;
    return {
      contentType: 'image/png',
      width: data.readUInt32BE(16),
      height: data.readUInt32BE(20),
    };
  }
  if (data.length >= 4 && data[0] === 0xff && data[1] === 0xd8) return jpegInfo(data);
  if (data.length >= 30 && data.toString('latin1', 0, 4) === 'RIFF') {
    if (data.toString('latin1', 8, 12) !== 'WEBP') return undefined;
    return webpInfo(data);
  }
  return undefined;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// Start-of-frame markers carry the dimensions (not DHT 0xC4, JPG 0xC8, DAC 0xCC).
const SOF_MARKERS = new Set([
  0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf,
]);

function jpegInfo(data: Buffer): ImageInfo | undefined {
  let offset = 2;
  while (offset + 9 < data.length) {
    if (data[offset] !== 0xff) return undefined;
    const marker = data[offset + 1] ?? 0;
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    const length = data.readUInt16BE(offset + 2);
    if (SOF_MARKERS.has(marker)) {
      return {
        contentType: 'image/jpeg',
        height: data.readUInt16BE(offset + 5),
        width: data.readUInt16BE(offset + 7),
      };
    }
    offset += 2 + length;
  }
  return undefined;
}

function webpInfo(data: Buffer): ImageInfo | undefined {
  const chunk = data.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    return {
      contentType: 'image/webp',
      width: data.readUInt16LE(26) & 0x3fff,
      height: data.readUInt16LE(28) & 0x3fff,
    };
  }
  if (chunk === 'VP8L') {
    const bits = data.readUInt32LE(21);
    return {
      contentType: 'image/webp',
      width: (bits & 0x3fff) + 1,
      height: ((bits >> 14) & 0x3fff) + 1,
    };
  }
  if (chunk === 'VP8X') {
    return {
      contentType: 'image/webp',
      width: data.readUIntLE(24, 3) + 1,
      height: data.readUIntLE(27, 3) + 1,
    };
  }
  return undefined;
}

/**
 * Checks a reference image for a video of `size` ("WxH"): a JPEG, PNG or WebP of at most
 * MAX_REFERENCE_IMAGE_BYTES whose dimensions are the video's. Throws ValidationError on `field`.
 */
export function validateReferenceImage(bytes: Uint8Array, size: string, field: string): ImageInfo {
  if (bytes.byteLength > MAX_REFERENCE_IMAGE_BYTES) {
    throw new ValidationError(
      field,
      `${field}: the image is ${bytes.byteLength} bytes, over ${MAX_REFERENCE_IMAGE_BYTES}`,
    );
  }
  const info = inspectImage(bytes);
  if (info === undefined) {
    throw new ValidationError(field, `${field}: must be a JPEG, PNG or WebP image`);
  }
  if (`${info.width}x${info.height}` !== size) {
    throw new ValidationError(
      field,
      `${field}: the image is ${info.width}x${info.height}; it must be the video's size, ${size}`,
    );
  }
  return info;
}
