import { encodeH264 } from './h264.ts';
import { encodeJpeg } from './jpeg.ts';
import { muxMp4 } from './mp4.ts';
import { drawRgb, type Scene, scene } from './test-pattern.ts';
import { encodeWebpFewColors } from './webp.ts';

/**
 * The simulator's content, made for each video: an MP4 of the test pattern at exactly the
 * requested size and duration, a WebP thumbnail of its first frame and a JPEG spritesheet of
 * eight frames spread over it. Nothing is read from disk and no codec library is used.
 */

/** Frames a second: low, so files stay small; enough to see the square move. */
export const SIMULATED_FPS = 10;

/** The spritesheet's grid (the console reads it from the sheet and the video's aspect). */
export const SPRITESHEET_COLUMNS = 4;
export const SPRITESHEET_ROWS = 2;
/** The longer side of a spritesheet frame, in pixels. */
const SPRITE_LONG_SIDE = 160;
/** The thumbnail is the first frame at a quarter of the video's size. */
const THUMBNAIL_DIVISOR = 4;

/** A video's frame size and whole seconds, as a create request gives them ("720x1280", "4"). */
export interface VideoShape {
  width: number;
  height: number;
  seconds: number;
}

export function parseShape(size: string, seconds: string): VideoShape {
  const match = /^([1-9]\d*)x([1-9]\d*)$/.exec(size);
  const wholeSeconds = Number(seconds);
  if (!match || !Number.isInteger(wholeSeconds) || wholeSeconds < 1) {
    throw new Error(`No simulated video for size '${size}' and seconds '${seconds}'`);
  }
  return { width: Number(match[1]), height: Number(match[2]), seconds: wholeSeconds };
}

/** The MP4 of the test pattern at exactly this size and duration. */
export function simulatedVideo(shape: VideoShape): Buffer {
  const { width, height } = shape;
  const frames = SIMULATED_FPS * shape.seconds;
  const stream = encodeH264({ width, height, frames, scene: (frame) => frameScene(shape, frame) });
  return muxMp4(stream, { width, height, fps: SIMULATED_FPS });
}

/** An RGB picture, 3 bytes a pixel, row by row. */
export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/** The first frame, a quarter of the video's size. */
export function simulatedThumbnail(shape: VideoShape): Buffer {
  const { rgb, width, height } = thumbnailImage(shape);
  return encodeWebpFewColors(rgb, width, height);
}

export function thumbnailImage(shape: VideoShape): RgbImage {
  const width = Math.max(1, Math.round(shape.width / THUMBNAIL_DIVISOR));
  const height = Math.max(1, Math.round(shape.height / THUMBNAIL_DIVISOR));
  return { rgb: still(shape, 0, width, height), width, height };
}

/**
 * Eight frames, row by row, frame k at k/8 of the video (where the console's scrubber seeks),
 * each at the video's aspect ratio with its longer side 160 pixels.
 */
export function simulatedSpritesheet(shape: VideoShape): Buffer {
  const { rgb, width, height } = spritesheetImage(shape);
  return encodeJpeg(rgb, width, height);
}

export function spritesheetImage(shape: VideoShape): RgbImage {
  const { frameWidth, frameHeight } = spriteFrameSize(shape);
  const width = frameWidth * SPRITESHEET_COLUMNS;
  const height = frameHeight * SPRITESHEET_ROWS;
  const sheet = new Uint8Array(width * height * 3);
  const count = SPRITESHEET_COLUMNS * SPRITESHEET_ROWS;
  const frames = SIMULATED_FPS * shape.seconds;
  for (let k = 0; k < count; k += 1) {
    const frame = Math.floor((k * frames) / count);
    const image = still(shape, frame, frameWidth, frameHeight);
    const left = (k % SPRITESHEET_COLUMNS) * frameWidth;
    const top = Math.floor(k / SPRITESHEET_COLUMNS) * frameHeight;
    for (let y = 0; y < frameHeight; y += 1) {
      const row = image.subarray(y * frameWidth * 3, (y + 1) * frameWidth * 3);
      sheet.set(row, ((top + y) * width + left) * 3);
    }
  }
  return { rgb: sheet, width, height };
}

export function spriteFrameSize(shape: VideoShape): { frameWidth: number; frameHeight: number } {
  const landscape = shape.width >= shape.height;
  const short = Math.max(
    1,
    Math.round(
      (SPRITE_LONG_SIDE * Math.min(shape.width, shape.height)) /
        Math.max(shape.width, shape.height),
    ),
  );
  return landscape
    ? { frameWidth: SPRITE_LONG_SIDE, frameHeight: short }
    : { frameWidth: short, frameHeight: SPRITE_LONG_SIDE };
}

function frameScene(shape: VideoShape, frame: number): Scene {
  // The pattern is drawn on the even size the H.264 stream codes (4:2:0 crops in pairs).
  return scene({
    width: shape.width + (shape.width % 2),
    height: shape.height + (shape.height % 2),
    frames: SIMULATED_FPS * shape.seconds,
    frame,
    fps: SIMULATED_FPS,
  });
}

function still(shape: VideoShape, frame: number, width: number, height: number): Uint8Array {
  return drawRgb(frameScene(shape, frame), shape.width, shape.height, width, height);
}
