import type { ServerResponse } from 'node:http';
import {
  parseShape,
  simulatedSpritesheet,
  simulatedThumbnail,
  simulatedVideo,
  type VideoShape,
} from './media/simulated-media.ts';

export const variants = ['video', 'thumbnail', 'spritesheet'] as const;
export type Variant = (typeof variants)[number];

const makers: Record<Variant, { make(shape: VideoShape): Buffer; contentType: string }> = {
  video: { make: simulatedVideo, contentType: 'video/mp4' },
  thumbnail: { make: simulatedThumbnail, contentType: 'image/webp' },
  spritesheet: { make: simulatedSpritesheet, contentType: 'image/jpeg' },
};

// Made on first request and kept: a catalogue has a few dozen sizes and durations, and a 1080p
// 12 s video takes a fifth of a second to make. The oldest go first past the limit, so a
// catalogue of unusual sizes cannot grow the process without bound.
const MAX_CACHED = 48;
const cache = new Map<string, Buffer>();

/**
 * A video's content: the MP4 of the test pattern at its size and duration, the thumbnail of its
 * first frame, or the spritesheet of frames through it. Made once per size, duration and variant
 * in the process, shared by every simulator in it.
 */
export function simulatedContent(variant: Variant, size: string, seconds: string): Buffer {
  const key = `${variant} ${size} ${seconds}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const made = makers[variant].make(parseShape(size, seconds));
  cache.set(key, made);
  for (const oldest of cache.keys()) {
    if (cache.size <= MAX_CACHED) break;
    cache.delete(oldest);
  }
  return made;
}

/** What a content response will carry: its type, exact length, and its bytes as a lazy stream. */
export interface ContentPlan {
  contentType: string;
  totalBytes: number;
  chunks(): Iterable<Buffer>;
}

const paddingChunk = Buffer.alloc(256 * 1024);

/**
 * The content of one variant of a video of `size` ("WxH") and `seconds`. With `videoSizeBytes`,
 * the MP4 is followed by one top-level ISO-BMFF `free` box that pads it to exactly that size
 * (players skip `free` boxes); the padding is produced chunk by chunk, so even gigabytes cost no
 * memory. A size too small to hold the MP4 plus a box header leaves the MP4 as it is.
 */
export function planContent(
  video: { size: string; seconds: string },
  variant: Variant,
  videoSizeBytes: number | null,
): ContentPlan {
  const body = simulatedContent(variant, video.size, video.seconds);
  const contentType = makers[variant].contentType;
  const padding = variant === 'video' && videoSizeBytes !== null ? videoSizeBytes - body.length : 0;
  if (padding < 8) return { contentType, totalBytes: body.length, chunks: () => [body] };
  return {
    contentType,
    totalBytes: body.length + padding,
    *chunks() {
      yield body;
      const header = freeBoxHeader(padding);
      yield header;
      let remaining = padding - header.length;
      while (remaining > 0) {
        const size = Math.min(remaining, paddingChunk.length);
        yield paddingChunk.subarray(0, size);
        remaining -= size;
      }
    },
  };
}

function freeBoxHeader(boxSize: number): Buffer {
  if (boxSize <= 0xffff_ffff) {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(boxSize, 0);
    header.write('free', 4, 'latin1');
    return header;
  }
  // size 1 means "a 64-bit size follows the type".
  const header = Buffer.alloc(16);
  header.writeUInt32BE(1, 0);
  header.write('free', 4, 'latin1');
  header.writeBigUInt64BE(BigInt(boxSize), 8);
  return header;
}

/** How a download is cut short on purpose. */
export interface Cutoff {
  afterBytes: number;
  /** truncate: the connection closes cleanly early; drop: it is reset. */
  mode: 'truncate' | 'drop';
}

/** Streams a plan with backpressure, announcing its full length even when cut short. */
export async function sendContent(
  res: ServerResponse,
  plan: ContentPlan,
  cutoff: Cutoff | null,
): Promise<void> {
  res.writeHead(200, {
    'content-type': plan.contentType,
    'content-length': String(plan.totalBytes),
  });
  let sent = 0;
  for (const chunk of plan.chunks()) {
    if (res.destroyed) return;
    if (cutoff && sent + chunk.length >= cutoff.afterBytes && cutoff.afterBytes < plan.totalBytes) {
      await writeFlushed(res, chunk.subarray(0, cutoff.afterBytes - sent));
      if (cutoff.mode === 'drop') res.socket?.resetAndDestroy();
      else res.destroy();
      return;
    }
    sent += chunk.length;
    if (!res.write(chunk)) await drained(res);
  }
  res.end();
}

function writeFlushed(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    res.write(chunk, () => resolve());
  });
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
