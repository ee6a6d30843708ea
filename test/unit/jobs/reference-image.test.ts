import { describe, expect, it } from 'vitest';
import {
  inspectImage,
  MAX_REFERENCE_IMAGE_BYTES,
  validateReferenceImage,
} from '../../../functions/shared/media/reference-image.ts';
import { blackPng } from '../../support/png.ts';

/** A baseline JPEG header (SOI, an APP0 segment, SOF0 with the size). */
function jpegHeader(width: number, height: number): Buffer {
  const app0 = Buffer.from([
    0xff,
    0xe0,
    0x00,
    0x10,
    ...Buffer.from('JFIF\0'),
    1,
    1,
    0,
    0,
    1,
    0,
    1,
    0,
    0,
  ]);
  const sof = Buffer.from([
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    height >> 8,
    height & 255,
    width >> 8,
    width & 255,
    3,
  ]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.alloc(32)]);
}

/** A lossless WebP header (RIFF, WEBP, VP8L with the size). */
function webpLosslessHeader(width: number, height: number): Buffer {
  const data = Buffer.alloc(40);
  data.write('RIFF', 0, 'latin1');
  data.write('WEBP', 8, 'latin1');
  data.write('VP8L', 12, 'latin1');
  data[20] = 0x2f;
  data.writeUInt32LE(((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14), 21);
  return data;
}

describe('inspectImage', () => {
  it.each([
    ['PNG', blackPng(1280, 720), 'image/png'],
    ['JPEG', jpegHeader(1280, 720), 'image/jpeg'],
    ['WebP', webpLosslessHeader(1280, 720), 'image/webp'],
  ])('reads the type and size of a %s from its bytes', (_name, bytes, contentType) => {
    expect(inspectImage(bytes)).toEqual({ contentType, width: 1280, height: 720 });
  });

  it('recognises nothing else (a GIF, text)', () => {
    expect(inspectImage(Buffer.from('GIF89a\x00\x05\x00\x05'))).toBeUndefined();
    expect(inspectImage(Buffer.from('not an image at all, really'))).toBeUndefined();
  });
});

describe('validateReferenceImage', () => {
  it("accepts an image of the video's size", () => {
    expect(validateReferenceImage(blackPng(720, 1280), '720x1280', 'f').contentType).toBe(
      'image/png',
    );
  });

  it.each([
    ['another size', blackPng(1280, 720), /is 1280x720; it must be the video's size, 720x1280/],
    ['not an image', Buffer.from('hello'), /JPEG, PNG or WebP/],
    ['too large', Buffer.alloc(MAX_REFERENCE_IMAGE_BYTES + 1), /over/],
  ])('refuses %s, naming the field', (_what, bytes, message) => {
    expect(() => validateReferenceImage(bytes, '720x1280', 'input_reference.key')).toThrow(message);
    expect(() => validateReferenceImage(bytes, '720x1280', 'input_reference.key')).toThrow(
      /^input_reference\.key: /,
    );
  });
});
