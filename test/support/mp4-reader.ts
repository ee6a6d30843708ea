/**
 * Reads what tests check of an MP4, independently of the simulator's muxer: the boxes on the
 * path to the video track, its durations, its sample table, and the frame size its H.264
 * sequence parameter set declares (cropping included).
 */

export interface Box {
  type: string;
  /** The payload, after the header. */
  body: Buffer;
}

export function boxes(data: Buffer): Box[] {
  const found: Box[] = [];
  let offset = 0;
  while (offset + 8 <= data.length) {
    let size = data.readUInt32BE(offset);
    let header = 8;
    if (size === 1) {
      size = Number(data.readBigUInt64BE(offset + 8));
      header = 16;
    }
    if (size < header || offset + size > data.length) {
      throw new Error(`box at ${offset} has a bad size ${size}`);
    }
    found.push({
      type: data.toString('latin1', offset + 4, offset + 8),
      body: data.subarray(offset + header, offset + size),
    });
    offset += size;
  }
  if (offset !== data.length)
    throw new Error(`${data.length - offset} stray bytes after the boxes`);
  return found;
}

/** The one box at a path of types ("moov/trak/tkhd"); children of sample entries are skipped. */
export function box(data: Buffer, path: string): Buffer {
  let body = data;
  for (const type of path.split('/')) {
    const matches = boxes(body).filter((candidate) => candidate.type === type);
    if (matches.length !== 1)
      throw new Error(`expected one ${type} box in ${path}, found ${matches.length}`);
    body = matches[0]?.body ?? Buffer.alloc(0);
  }
  return body;
}

export interface Mp4Facts {
  topLevel: string[];
  movieSeconds: number;
  trackSeconds: number;
  mediaSeconds: number;
  /** The track header's presentation size. */
  width: number;
  height: number;
  /** The sample entry's coded size. */
  entryWidth: number;
  entryHeight: number;
  /** Decoded from the SPS in avcC. */
  spsWidth: number;
  spsHeight: number;
  profileIdc: number;
  levelIdc: number;
  sampleCount: number;
  sampleDeltas: number[];
  syncSamples: number[];
  /** Each sample's NAL unit types, from its 4-byte length-prefixed units. */
  nalTypes: number[][];
}

export function readMp4(data: Buffer): Mp4Facts {
  const topLevel = boxes(data).map((found) => found.type);
  const mvhd = box(data, 'moov/mvhd');
  const tkhd = box(data, 'moov/trak/tkhd');
  const mdhd = box(data, 'moov/trak/mdia/mdhd');
  const stbl = box(data, 'moov/trak/mdia/minf/stbl');
  if (mvhd[0] !== 0 || tkhd[0] !== 0 || mdhd[0] !== 0)
    throw new Error('expected version 0 headers');
  const movieTimescale = mvhd.readUInt32BE(12);
  const mediaTimescale = mdhd.readUInt32BE(12);

  const stsd = box(stbl, 'stsd');
  const entries = boxes(stsd.subarray(8));
  const avc1 = entries[0];
  if (entries.length !== 1 || avc1?.type !== 'avc1')
    throw new Error('expected one avc1 sample entry');
  // VisualSampleEntry: 78 bytes of fields, then its boxes (avcC).
  const avcC = boxes(avc1.body.subarray(78)).find((found) => found.type === 'avcC')?.body;
  if (!avcC) throw new Error('no avcC');
  const spsLength = avcC.readUInt16BE(6);
  const sps = parseSps(avcC.subarray(8, 8 + spsLength));

  const stts = box(stbl, 'stts');
  const sampleDeltas: number[] = [];
  for (let entry = 0; entry < stts.readUInt32BE(4); entry += 1) {
    const count = stts.readUInt32BE(8 + entry * 8);
    const delta = stts.readUInt32BE(12 + entry * 8);
    for (let n = 0; n < count; n += 1) sampleDeltas.push(delta);
  }
  const stss = box(stbl, 'stss');
  const syncSamples = Array.from({ length: stss.readUInt32BE(4) }, (_, n) =>
    stss.readUInt32BE(8 + n * 4),
  );
  const stsz = box(stbl, 'stsz');
  if (stsz.readUInt32BE(4) !== 0) throw new Error('expected per-sample sizes');
  const sampleCount = stsz.readUInt32BE(8);
  const sizes = Array.from({ length: sampleCount }, (_, n) => stsz.readUInt32BE(12 + n * 4));
  const stsc = box(stbl, 'stsc');
  const stco = box(stbl, 'stco');
  if (
    stsc.readUInt32BE(4) !== 1 ||
    stco.readUInt32BE(4) !== 1 ||
    stsc.readUInt32BE(12) !== sampleCount
  ) {
    throw new Error('expected every sample in one chunk');
  }
  let offset = stco.readUInt32BE(8);
  const nalTypes = sizes.map((size) => {
    const sample = data.subarray(offset, offset + size);
    offset += size;
    const types: number[] = [];
    for (let at = 0; at < sample.length; ) {
      const length = sample.readUInt32BE(at);
      types.push((sample[at + 4] ?? 0) & 0x1f);
      at += 4 + length;
      if (at > sample.length) throw new Error('a NAL unit runs past its sample');
    }
    return types;
  });
  if (offset > data.length) throw new Error('samples run past the file');

  return {
    topLevel,
    movieSeconds: mvhd.readUInt32BE(16) / movieTimescale,
    trackSeconds: tkhd.readUInt32BE(20) / movieTimescale,
    mediaSeconds: mdhd.readUInt32BE(16) / mediaTimescale,
    width: tkhd.readUInt32BE(76) / 0x1_0000,
    height: tkhd.readUInt32BE(80) / 0x1_0000,
    entryWidth: avc1.body.readUInt16BE(24),
    entryHeight: avc1.body.readUInt16BE(26),
    spsWidth: sps.width,
    spsHeight: sps.height,
    profileIdc: sps.profileIdc,
    levelIdc: sps.levelIdc,
    sampleCount,
    sampleDeltas,
    syncSamples,
    nalTypes,
  };
}

/** The frame size of a Baseline SPS NAL unit (header byte included). */
export function parseSps(nal: Buffer): {
  profileIdc: number;
  levelIdc: number;
  width: number;
  height: number;
} {
  // Drop emulation prevention bytes (00 00 03 -> 00 00).
  const rbsp: number[] = [];
  for (let at = 1; at < nal.length; at += 1) {
    const byte = nal[at] ?? 0;
    if (byte === 3 && rbsp.length >= 2 && rbsp.at(-1) === 0 && rbsp.at(-2) === 0) continue;
    rbsp.push(byte);
  }
  let bit = 0;
  const u = (count: number) => {
    let value = 0;
    for (let n = 0; n < count; n += 1, bit += 1) {
      value = value * 2 + (((rbsp[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1);
    }
    return value;
  };
  const ue = () => {
    let zeros = 0;
    while (u(1) === 0) zeros += 1;
    return 2 ** zeros - 1 + u(zeros);
  };
  const profileIdc = u(8);
  u(8); // constraint flags
  const levelIdc = u(8);
  ue(); // seq_parameter_set_id
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128].includes(profileIdc)) {
    throw new Error(`profile ${profileIdc}: only Baseline/Main SPS are read here`);
  }
  ue(); // log2_max_frame_num_minus4
  const pocType = ue();
  if (pocType === 0) ue();
  if (pocType === 1) throw new Error('pic_order_cnt_type 1 is not read here');
  ue(); // max_num_ref_frames
  u(1); // gaps_in_frame_num_value_allowed_flag
  const mbWidth = ue() + 1;
  const mapUnitsHeight = ue() + 1;
  const frameMbsOnly = u(1);
  if (!frameMbsOnly) u(1);
  u(1); // direct_8x8_inference_flag
  let [left, right, top, bottom] = [0, 0, 0, 0];
  if (u(1)) [left, right, top, bottom] = [ue(), ue(), ue(), ue()];
  const mbHeight = mapUnitsHeight * (2 - frameMbsOnly);
  // 4:2:0: crop offsets count pairs of pixels (x2 again for field-coded frames' height).
  return {
    profileIdc,
    levelIdc,
    width: mbWidth * 16 - 2 * (left + right),
    height: mbHeight * 16 - 2 * (2 - frameMbsOnly) * (top + bottom),
  };
}
