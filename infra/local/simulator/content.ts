import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

export const variants = ['video', 'thumbnail', 'spritesheet'] as const;
export type Variant = (typeof variants)[number];

const fixtures: Record<Variant, { file: string; contentType: string }> = {
  video: { file: 'sample.mp4', contentType: 'video/mp4' },
  thumbnail: { file: 'thumbnail.webp', contentType: 'image/webp' },
  spritesheet: { file: 'spritesheet.jpg', contentType: 'image/jpeg' },
};

/** The committed media fixtures, read once at start. */
export type Media = Record<Variant, Buffer>;

export async function loadMedia(): Promise<Media> {
  const read = (variant: Variant) =>
    readFile(new URL(`./media/${fixtures[variant].file}`, import.meta.url));
  const [video, thumbnail, spritesheet] = await Promise.all(variants.map(read));
  if (!video || !thumbnail || !spritesheet) throw new Error('Simulator media fixtures missing');
  return { video, thumbnail, spritesheet };
}

/** What a content response will carry: its type, exact length, and its bytes as a lazy stream. */
export interface ContentPlan {
  contentType: string;
  totalBytes: number;
  chunks(): Iterable<Buffer>;
}

const paddingChunk = Buffer.alloc(256 * 1024);

/**
 * The content of one variant. With `videoSizeBytes`, the MP4 is followed by one top-level ISO-BMFF
 * `free` box that pads it to exactly that size (players skip `free` boxes); the padding is
 * produced chunk by chunk, so even gigabytes cost no memory. A size too small to hold the
 * fixture plus a box header leaves the fixture as it is.
 */
export function planContent(
  media: Media,
  variant: Variant,
  videoSizeBytes: number | null,
): ContentPlan {
  const body = media[variant];
  const contentType = fixtures[variant].contentType;
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
