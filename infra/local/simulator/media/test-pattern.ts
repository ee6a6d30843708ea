/**
 * The simulated video's picture: a flat background, a square that moves one macroblock a frame
 * (across and back),
 * a progress bar that grows to the full width by the last frame, and the elapsed whole seconds in
 * a blocky font. Everything is a rectangle with even edges, so a frame is cheap to draw a
 * macroblock at a time and its 4:2:0 chroma needs no filtering; the square and the digits sit on
 * the macroblock grid, so a frame differs from the last in few macroblocks.
 */

export interface Color {
  r: number;
  g: number;
  b: number;
  /** BT.709 limited range, as the H.264 stream declares it (HD video's usual colours). */
  y: number;
  cb: number;
  cr: number;
}

/** [x0, x1) x [y0, y1) in luma pixels, all even. */
export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  color: Color;
}

export interface Scene {
  background: Color;
  /** Painted in order over the background. */
  rects: Rect[];
}

/** What a scene is drawn for: the visible size (even) and the frame timing. */
export interface PatternFrame {
  width: number;
  height: number;
  /** Frames in the whole clip, and this one's index. */
  frames: number;
  frame: number;
  fps: number;
}

function color(r: number, g: number, b: number): Color {
  return {
    r,
    g,
    b,
    y: Math.round(16 + (46.559 * r + 156.629 * g + 15.812 * b) / 255),
    cb: Math.round(128 + (-25.664 * r - 86.336 * g + 112 * b) / 255),
    cr: Math.round(128 + (112 * r - 101.73 * g - 10.27 * b) / 255),
  };
}

export const palette = {
  background: color(24, 32, 56),
  square: color(240, 140, 40),
  bar: color(60, 200, 120),
  digits: color(235, 235, 235),
} as const;

// 3 x 5 cells per digit, row by row.
const FONT = [
  '111101101101111',
  '010110010010111',
  '111001111100111',
  '111001111001111',
  '101101111001001',
  '111100111001111',
  '111100111101111',
  '111001001001001',
  '111101111101111',
  '111101111001111',
];

const MB = 16;

export function scene(at: PatternFrame): Scene {
  const { width, height, frames, frame, fps } = at;
  const mbWidth = Math.ceil(width / MB);
  const mbHeight = Math.ceil(height / MB);
  const rects: Rect[] = [];

  // Across and back, mid-height: only its leading and trailing columns change each frame.
  const side = Math.max(1, Math.floor(Math.min(mbWidth, mbHeight) / 6));
  const squareX = pingPong(frame, mbWidth - side) * MB;
  const squareY = Math.floor((mbHeight - side) / 2) * MB;
  rects.push({
    x0: squareX,
    y0: squareY,
    x1: squareX + side * MB,
    y1: squareY + side * MB,
    color: palette.square,
  });

  const cell = Math.min(MB, Math.max(2, 2 * Math.floor(Math.min(width, height) / 90)));
  const barRight = even((width * (frame + 1)) / frames);
  rects.push({
    x0: 0,
    y0: height - 2 * cell,
    x1: barRight,
    y1: height - cell,
    color: palette.bar,
  });

  const digits = String(Math.floor(frame / fps));
  for (const [position, digit] of [...digits].entries()) {
    const glyph = FONT[Number(digit)] ?? '';
    const left = cell + position * 4 * cell;
    for (let index = 0; index < glyph.length; index += 1) {
      if (glyph[index] !== '1') continue;
      const x0 = left + (index % 3) * cell;
      const y0 = cell + Math.floor(index / 3) * cell;
      rects.push({ x0, y0, x1: x0 + cell, y1: y0 + cell, color: palette.digits });
    }
  }
  return { background: palette.background, rects };
}

/** 0, 1, ..., range, range - 1, ..., 0, 1, ...: a position bouncing between two walls. */
function pingPong(step: number, range: number): number {
  if (range <= 0) return 0;
  const phase = step % (2 * range);
  return phase <= range ? phase : 2 * range - phase;
}

const even = (value: number): number => 2 * Math.round(value / 2);

/**
 * Draws macroblock (mbX, mbY) into `out`: 256 luma samples, then 64 Cb and 64 Cr, each row by
 * row, the order of an I_PCM macroblock.
 */
export function drawMacroblock(picture: Scene, mbX: number, mbY: number, out: Uint8Array): void {
  const { background } = picture;
  out.fill(background.y, 0, 256);
  out.fill(background.cb, 256, 320);
  out.fill(background.cr, 320, 384);
  const left = mbX * MB;
  const top = mbY * MB;
  for (const rect of picture.rects) {
    const x0 = Math.max(rect.x0, left) - left;
    const x1 = Math.min(rect.x1, left + MB) - left;
    const y0 = Math.max(rect.y0, top) - top;
    const y1 = Math.min(rect.y1, top + MB) - top;
    if (x0 >= x1 || y0 >= y1) continue;
    for (let y = y0; y < y1; y += 1) out.fill(rect.color.y, y * MB + x0, y * MB + x1);
    for (let y = y0 / 2; y < y1 / 2; y += 1) {
      out.fill(rect.color.cb, 256 + y * 8 + x0 / 2, 256 + y * 8 + x1 / 2);
      out.fill(rect.color.cr, 320 + y * 8 + x0 / 2, 320 + y * 8 + x1 / 2);
    }
  }
}

/** The macroblocks a rectangle touches, as indices in raster order. */
export function macroblocksUnder(rect: Rect, mbWidth: number, mbHeight: number): number[] {
  const indices: number[] = [];
  if (rect.x0 >= rect.x1 || rect.y0 >= rect.y1) return indices;
  const mbX1 = Math.min(mbWidth, Math.ceil(rect.x1 / MB));
  const mbY1 = Math.min(mbHeight, Math.ceil(rect.y1 / MB));
  for (let mbY = Math.max(0, Math.floor(rect.y0 / MB)); mbY < mbY1; mbY += 1) {
    for (let mbX = Math.max(0, Math.floor(rect.x0 / MB)); mbX < mbX1; mbX += 1) {
      indices.push(mbY * mbWidth + mbX);
    }
  }
  return indices;
}

/**
 * The scene scaled to a `width` x `height` RGB image (3 bytes a pixel, row by row), sampling the
 * scene at each pixel's centre: stills and spritesheet frames of the video.
 */
export function drawRgb(
  picture: Scene,
  sceneWidth: number,
  sceneHeight: number,
  width: number,
  height: number,
): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    const sceneY = ((y + 0.5) * sceneHeight) / height;
    for (let x = 0; x < width; x += 1) {
      const sceneX = ((x + 0.5) * sceneWidth) / width;
      let painted = picture.background;
      for (const rect of picture.rects) {
        if (sceneX >= rect.x0 && sceneX < rect.x1 && sceneY >= rect.y0 && sceneY < rect.y1) {
          painted = rect.color;
        }
      }
      const at = (y * width + x) * 3;
      rgb[at] = painted.r;
      rgb[at + 1] = painted.g;
      rgb[at + 2] = painted.b;
    }
  }
  return rgb;
}
