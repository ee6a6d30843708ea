import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModels } from '../../infra/local/simulator/knobs.ts';
import {
  type RgbImage,
  SIMULATED_FPS,
  spritesheetImage,
  thumbnailImage,
} from '../../infra/local/simulator/media/simulated-media.ts';
import { palette, scene } from '../../infra/local/simulator/media/test-pattern.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';
import { launchChromium } from './chromium.ts';

// The simulator's content in Chromium's own decoders: the MP4 plays at the size and duration
// asked for and shows the test pattern where it should be, and the previews decode.
const apiKey = 'sk-test';
let sim: RunningSimulator;
let client: OpenAI;
let browser: Browser;
let page: Page;
const clock = { ms: Date.parse('2026-03-01T12:00:00Z') };

beforeAll(async () => {
  [sim, browser] = await Promise.all([
    startSimulator({
      apiKey,
      speed: 1,
      now: () => clock.ms,
      // Ray2's frame sizes on /v1/videos too (Bedrock's output is the same content).
      models: {
        ...defaultModels,
        'ray2-frames': { sizes: ['540x960', '1260x540'], seconds: ['5', '9'], renderFactor: 1 },
      },
    }),
    launchChromium(),
  ]);
  client = new OpenAI({ apiKey, baseURL: sim.baseURL, maxRetries: 0 });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await sim?.close();
});

type Variant = 'video' | 'thumbnail' | 'spritesheet';

/** Creates a video, lets its render finish on the simulator's clock, downloads each variant. */
async function simulatedContent(model: string, size: string, seconds: string) {
  const video = await client.videos.create({
    prompt: 'A test pattern',
    model: model as 'sora-2',
    size: size as '720x1280',
    seconds: seconds as '4',
  });
  clock.ms += 60 * 60_000;
  const download = async (variant: Variant) => {
    const response = await client.videos.downloadContent(video.id, { variant });
    return Buffer.from(await response.arrayBuffer()).toString('base64');
  };
  return {
    video: await download('video'),
    thumbnail: await download('thumbnail'),
    spritesheet: await download('spritesheet'),
  };
}

// In the page (this project's types are Node's, not the DOM's).
interface PageVideo {
  src: string;
  muted: boolean;
  currentTime: number;
  duration: number;
  videoWidth: number;
  videoHeight: number;
  readyState: number;
  error: { message: string } | null;
  play(): Promise<void>;
  pause(): void;
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
}

/** Loads the MP4 in a <video>, reads its metadata, plays it, and samples frames at `times`. */
function playInPage(base64: string, times: number[], points: [number, number][]) {
  return page.evaluate(
    async ({ base64, times, points }) => {
      const web = globalThis as unknown as {
        document: { createElement(tag: string): unknown };
        Blob: new (parts: unknown[], options: { type: string }) => unknown;
        URL: { createObjectURL(blob: unknown): string };
        atob(data: string): string;
      };
      const bytes = Uint8Array.from(web.atob(base64), (char) => char.charCodeAt(0));
      const video = web.document.createElement('video') as PageVideo;
      const once = (type: string) =>
        new Promise<void>((resolve, reject) => {
          video.addEventListener(type, () => resolve(), { once: true });
          video.addEventListener('error', () => reject(new Error(video.error?.message)), {
            once: true,
          });
        });
      video.muted = true;
      const loaded = once('loadeddata');
      video.src = web.URL.createObjectURL(new web.Blob([bytes], { type: 'video/mp4' }));
      await loaded;
      const metadata = {
        width: video.videoWidth,
        height: video.videoHeight,
        duration: video.duration,
      };

      await video.play();
      const playedFrom = video.currentTime;
      await new Promise<void>((resolve) => {
        const check = () =>
          video.currentTime > playedFrom + 0.3 ? resolve() : setTimeout(check, 20);
        check();
      });
      const played = video.currentTime - playedFrom;
      video.pause();

      const canvas = web.document.createElement('canvas') as {
        width: number;
        height: number;
        getContext(
          kind: string,
          options: { willReadFrequently: boolean },
        ): {
          drawImage(image: unknown, x: number, y: number): void;
          getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
        };
      };
      canvas.width = metadata.width;
      canvas.height = metadata.height;
      const context = canvas.getContext('2d', { willReadFrequently: true });
      const frames: number[][][] = [];
      for (const time of times) {
        const seeked = once('seeked');
        video.currentTime = time;
        await seeked;
        context.drawImage(video, 0, 0);
        frames.push(points.map(([x, y]) => [...context.getImageData(x, y, 1, 1).data.slice(0, 3)]));
      }
      return { metadata, played, frames };
    },
    { base64, times, points },
  );
}

/**
 * Decodes an image in an <img> and compares it with the picture it was encoded from: its size,
 * and how far each channel of each pixel is from the original (mean and worst).
 */
function imageInPage(base64: string, type: string, expected: RgbImage) {
  return page.evaluate(
    async ({ base64, type, expectedRgb }) => {
      const web = globalThis as unknown as {
        document: { createElement(tag: string): unknown };
        atob(data: string): string;
      };
      const image = web.document.createElement('img') as {
        src: string;
        naturalWidth: number;
        naturalHeight: number;
        decode(): Promise<void>;
      };
      image.src = `data:${type};base64,${base64}`;
      await image.decode();
      const canvas = web.document.createElement('canvas') as {
        width: number;
        height: number;
        getContext(kind: string): {
          drawImage(image: unknown, x: number, y: number): void;
          getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
        };
      };
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      const context = canvas.getContext('2d');
      context.drawImage(image, 0, 0);
      const decoded = context.getImageData(0, 0, canvas.width, canvas.height).data;
      const original = Uint8Array.from(web.atob(expectedRgb), (char) => char.charCodeAt(0));
      let total = 0;
      let worst = 0;
      for (let pixel = 0; pixel * 3 < original.length; pixel += 1) {
        for (let channel = 0; channel < 3; channel += 1) {
          const error = Math.abs(
            (decoded[pixel * 4 + channel] ?? 0) - (original[pixel * 3 + channel] ?? 0),
          );
          total += error;
          worst = Math.max(worst, error);
        }
      }
      return {
        width: image.naturalWidth,
        height: image.naturalHeight,
        meanError: total / original.length,
        worstError: worst,
      };
    },
    { base64, type, expectedRgb: Buffer.from(expected.rgb).toString('base64') },
  );
}

const rgb = (color: { r: number; g: number; b: number }) => [color.r, color.g, color.b];

/** Within a few levels per channel: YCbCr to RGB and JPEG rounding are not exact. */
function expectColor(actual: number[] | undefined, expected: number[], tolerance = 6) {
  expect(actual).toHaveLength(3);
  for (const [channel, value] of expected.entries()) {
    expect(Math.abs((actual?.[channel] ?? -999) - value)).toBeLessThanOrEqual(tolerance);
  }
}

/** The centre of the moving square at `frame` of a video of this shape. */
function squareCentre(width: number, height: number, seconds: number, frame: number) {
  const square = scene({
    width,
    height,
    frames: SIMULATED_FPS * seconds,
    frame,
    fps: SIMULATED_FPS,
  }).rects[0];
  if (!square) throw new Error('the scene has no square');
  return [Math.floor((square.x0 + square.x1) / 2), Math.floor((square.y0 + square.y1) / 2)] as [
    number,
    number,
  ];
}

describe('the simulated video in Chromium', () => {
  it.each([
    { model: 'sora-2', size: '720x1280', seconds: '4' },
    { model: 'sora-2-pro', size: '1920x1080', seconds: '12' },
    { model: 'ray2-frames', size: '540x960', seconds: '5' },
    { model: 'ray2-frames', size: '1260x540', seconds: '9' },
  ])(
    '$model $size $seconds s: plays at that size and duration, the square moving',
    async (request) => {
      const [width = 0, height = 0] = request.size.split('x').map(Number);
      const seconds = Number(request.seconds);
      const content = await simulatedContent(request.model, request.size, request.seconds);
      // Frame 0 and frame 20, seeked to the middle of their tenth of a second.
      const early = squareCentre(width, height, seconds, 0);
      const later = squareCentre(width, height, seconds, 20);
      expect(later).not.toEqual(early);

      const { metadata, played, frames } = await playInPage(
        content.video,
        [0.05, 2.05],
        [early, later],
      );

      expect(metadata).toEqual({ width, height, duration: seconds });
      expect(played).toBeGreaterThan(0.3);
      // At the start the square is at `early` and not yet at `later`; two seconds on, the reverse.
      expectColor(frames[0]?.[0], rgb(palette.square));
      expectColor(frames[0]?.[1], rgb(palette.background));
      expectColor(frames[1]?.[0], rgb(palette.background));
      expectColor(frames[1]?.[1], rgb(palette.square));

      // The thumbnail is lossless: the first frame exactly, at a quarter of the size.
      const shape = { width, height, seconds };
      const thumbnail = await imageInPage(content.thumbnail, 'image/webp', thumbnailImage(shape));
      expect(thumbnail).toEqual({
        width: Math.round(width / 4),
        height: Math.round(height / 4),
        meanError: 0,
        worstError: 0,
      });
      // The spritesheet is a JPEG: close to the eight frames drawn, only edges a little off.
      const sprites = spritesheetImage(shape);
      const sheet = await imageInPage(content.spritesheet, 'image/jpeg', sprites);
      expect([sheet.width, sheet.height]).toEqual([sprites.width, sprites.height]);
      expect(sheet.meanError).toBeLessThan(1.5);
      expect(sheet.worstError).toBeLessThan(60);
    },
  );
});
