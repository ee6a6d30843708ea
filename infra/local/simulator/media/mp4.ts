import type { H264Stream } from './h264.ts';

/**
 * Muxes an H.264 stream into a progressive MP4 (moov before mdat, so a player can start before
 * the download ends): one video track, every frame one sample in one chunk. The movie's and the
 * track's durations are exactly `frames / fps` seconds, and the track header carries the
 * requested width and height.
 */
export function muxMp4(
  stream: H264Stream,
  options: { width: number; height: number; fps: number },
) {
  const { width, height, fps } = options;
  // A millisecond movie clock; the track's clock ticks 1000 times a frame.
  const movieTimescale = 1000;
  const trackTimescale = fps * 1000;
  const sampleDelta = 1000;
  const count = stream.frames.length;
  const trackDuration = count * sampleDelta;
  const movieDuration = Math.round((count * movieTimescale) / fps);

  const samples = stream.frames.map((frame) => {
    const sample = Buffer.alloc(4 + frame.length);
    sample.writeUInt32BE(frame.length, 0);
    sample.set(frame, 4);
    return sample;
  });

  const ftyp = box('ftyp', ascii('isom'), u32(512), ascii('isomiso2avc1mp41'));
  const moovFor = (chunkOffset: number) =>
    box(
      'moov',
      fullBox('mvhd', 0, 0, [
        u32(0),
        u32(0),
        u32(movieTimescale),
        u32(movieDuration),
        u32(0x0001_0000), // rate 1.0
        u16(0x0100), // volume 1.0
        Buffer.alloc(10),
        matrix(),
        Buffer.alloc(24),
        u32(2), // next_track_ID
      ]),
      box(
        'trak',
        // flags: enabled, in movie, in preview
        fullBox('tkhd', 0, 7, [
          u32(0),
          u32(0),
          u32(1), // track_ID
          u32(0),
          u32(movieDuration),
          Buffer.alloc(8),
          u16(0), // layer
          u16(0), // alternate_group
          u16(0), // volume
          u16(0),
          matrix(),
          u32(width * 0x1_0000),
          u32(height * 0x1_0000),
        ]),
        box(
          'mdia',
          fullBox('mdhd', 0, 0, [
            u32(0),
            u32(0),
            u32(trackTimescale),
            u32(trackDuration),
            u16(0x55c4), // language 'und'
            u16(0),
          ]),
          fullBox('hdlr', 0, 0, [u32(0), ascii('vide'), Buffer.alloc(12), ascii('VideoHandler\0')]),
          box(
            'minf',
            fullBox('vmhd', 0, 1, [Buffer.alloc(8)]),
            box('dinf', fullBox('dref', 0, 0, [u32(1), fullBox('url ', 0, 1, [])])),
            box(
              'stbl',
              fullBox('stsd', 0, 0, [u32(1), avc1(stream, width, height)]),
              fullBox('stts', 0, 0, [u32(1), u32(count), u32(sampleDelta)]),
              fullBox('stss', 0, 0, [u32(1), u32(1)]),
              fullBox('stsc', 0, 0, [u32(1), u32(1), u32(count), u32(1)]),
              fullBox('stsz', 0, 0, [u32(0), u32(count), ...samples.map((s) => u32(s.length))]),
              fullBox('stco', 0, 0, [u32(1), u32(chunkOffset)]),
            ),
          ),
        ),
      ),
    );
  // The moov's size does not depend on the offset it records.
  const moovSize = moovFor(0).length;
  const moov = moovFor(ftyp.length + moovSize + 8);
  const mdatSize = 8 + samples.reduce((sum, sample) => sum + sample.length, 0);
  const mdatHeader = Buffer.concat([u32(mdatSize), ascii('mdat')]);
  return Buffer.concat([ftyp, moov, mdatHeader, ...samples]);
}

function avc1(stream: H264Stream, width: number, height: number): Buffer {
  const avcC = box(
    'avcC',
    Buffer.from([
      1, // configurationVersion
      stream.profileIdc,
      stream.constraintFlags,
      stream.levelIdc,
      0xff, // lengthSizeMinusOne: 4-byte NAL lengths
      0xe1, // one SPS
    ]),
    u16(stream.sps.length),
    Buffer.from(stream.sps),
    Buffer.from([1]), // one PPS
    u16(stream.pps.length),
    Buffer.from(stream.pps),
  );
  const compressorName = Buffer.alloc(32);
  return box(
    'avc1',
    Buffer.alloc(6),
    u16(1), // data_reference_index
    Buffer.alloc(16),
    u16(width),
    u16(height),
    u32(0x0048_0000), // 72 dpi
    u32(0x0048_0000),
    u32(0),
    u16(1), // frame_count
    compressorName,
    u16(0x0018), // depth
    u16(0xffff), // pre_defined -1
    avcC,
  );
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  return Buffer.concat([u32(8 + body.length), ascii(type), body]);
}

function fullBox(type: string, version: number, flags: number, payload: Buffer[]): Buffer {
  return box(type, u32((version << 24) | flags), ...payload);
}

function matrix(): Buffer {
  return Buffer.concat([0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000].map(u32));
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0, 0);
  return buffer;
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value, 0);
  return buffer;
}

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
