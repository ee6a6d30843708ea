import { describe, expect, it } from 'vitest';
import {
  SIMULATED_FPS,
  simulatedSpritesheet,
  simulatedThumbnail,
  simulatedVideo,
} from '../../../infra/local/simulator/media/simulated-media.ts';
import { simulatorCatalogue } from '../../../infra/local/simulator-catalogue.ts';
import { readMp4 } from '../../support/mp4-reader.ts';

const catalogue = JSON.parse(simulatorCatalogue()) as Record<
  string,
  { sizes: string[]; seconds: string[] }
>;
// Every size and duration a model of the simulator's catalogue offers, once each.
const shapes = [
  ...new Set(
    Object.values(catalogue).flatMap((spec) =>
      spec.sizes.flatMap((size) => spec.seconds.map((seconds) => `${size} ${seconds}`)),
    ),
  ),
].map((shape) => {
  const [size = '', seconds = ''] = shape.split(' ');
  const [width = 0, height = 0] = size.split('x').map(Number);
  return { width, height, seconds: Number(seconds) };
});
const sizes = [
  ...new Map(shapes.map((shape) => [`${shape.width}x${shape.height}`, shape])).values(),
];

describe('the simulated MP4', () => {
  it('covers the catalogue: sora-2, sora-2-pro and Ray2 sizes at 4, 5, 8, 9 and 12 s', () => {
    expect(sizes.map((shape) => `${shape.width}x${shape.height}`)).toEqual(
      expect.arrayContaining(['720x1280', '1920x1080', '1792x1024', '540x960', '1260x540']),
    );
    expect(new Set(shapes.map((shape) => shape.seconds))).toEqual(new Set([4, 5, 8, 9, 12]));
  });

  it.each(shapes)(
    'is $width x $height for $seconds s in every header, one frame a tenth',
    (shape) => {
      const mp4 = readMp4(simulatedVideo(shape));

      expect(mp4.topLevel).toEqual(['ftyp', 'moov', 'mdat']);
      expect([mp4.movieSeconds, mp4.trackSeconds, mp4.mediaSeconds]).toEqual([
        shape.seconds,
        shape.seconds,
        shape.seconds,
      ]);
      expect([mp4.width, mp4.height]).toEqual([shape.width, shape.height]);
      expect([mp4.entryWidth, mp4.entryHeight]).toEqual([shape.width, shape.height]);
      // The decoder's size: macroblocks less the SPS's cropping (1080 = 68 x 16 - 8).
      expect([mp4.spsWidth, mp4.spsHeight]).toEqual([shape.width, shape.height]);
      expect(mp4.profileIdc).toBe(66);
      expect(mp4.sampleCount).toBe(10 * shape.seconds);
      expect(new Set(mp4.sampleDeltas).size).toBe(1);
      // One IDR frame, then P slices; only the first is a sync sample.
      expect(mp4.syncSamples).toEqual([1]);
      expect(mp4.nalTypes[0]).toEqual([5]);
      expect(mp4.nalTypes.slice(1).every((types) => types.length === 1 && types[0] === 1)).toBe(
        true,
      );
    },
  );

  it('changes every frame (at least one raw macroblock each), so a player shows time passing', () => {
    const video = simulatedVideo({ width: 1280, height: 720, seconds: 4 });
    const stsz = video.indexOf('stsz', 0, 'latin1');
    const count = video.readUInt32BE(stsz + 12);
    const sizes = Array.from({ length: count }, (_, n) => video.readUInt32BE(stsz + 16 + n * 4));

    // An I_PCM macroblock carries 384 samples; a frame of skips alone would be a few bytes.
    expect(sizes.slice(1).every((size) => size > 384)).toBe(true);
    expect(count).toBe(SIMULATED_FPS * 4);
  });

  it('stays small: at most about 1.2 MB for the largest, 1080p for 12 s', () => {
    const video = simulatedVideo({ width: 1920, height: 1080, seconds: 12 });

    expect(video.length).toBeLessThan(1_300_000);
  });

  it('keeps odd sizes in the track header and codes one pixel more', () => {
    const mp4 = readMp4(simulatedVideo({ width: 321, height: 179, seconds: 1 }));

    expect([mp4.width, mp4.height]).toEqual([321, 179]);
    expect([mp4.spsWidth, mp4.spsHeight]).toEqual([322, 180]);
  });
});

describe('the simulated previews', () => {
  it.each(sizes)(
    'of $width x $height: a WebP a quarter of the size, 4 x 2 sprites of its aspect',
    (shape) => {
      const thumbnail = simulatedThumbnail(shape);
      const sheet = simulatedSpritesheet(shape);

      expect(thumbnail.toString('latin1', 0, 4)).toBe('RIFF');
      expect(thumbnail.readUInt32LE(4)).toBe(thumbnail.length - 8);
      expect(thumbnail.toString('latin1', 8, 16)).toBe('WEBPVP8L');
      const header = thumbnail.readUInt32LE(21);
      expect([(header & 0x3fff) + 1, ((header >>> 14) & 0x3fff) + 1]).toEqual([
        Math.round(shape.width / 4),
        Math.round(shape.height / 4),
      ]);

      expect([sheet[0], sheet[1]]).toEqual([0xff, 0xd8]);
      const sof = sheet.indexOf(Buffer.from([0xff, 0xc0]));
      const sheetWidth = sheet.readUInt16BE(sof + 7);
      const sheetHeight = sheet.readUInt16BE(sof + 5);
      expect(Math.max(sheetWidth / 4, sheetHeight / 2)).toBe(160);
      // The console finds the grid from the sheet and the video's aspect, within 5 % of a frame.
      const columns = sheetWidth / ((sheetHeight / 2) * (shape.width / shape.height));
      expect(Math.abs(columns - 4)).toBeLessThan(0.05);
    },
  );
});
