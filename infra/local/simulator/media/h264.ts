import { BitWriter } from './bit-writer.ts';
import { drawMacroblock, macroblocksUnder, type Rect, type Scene } from './test-pattern.ts';

/**
 * A tiny H.264 Constrained Baseline encoder for the simulator's test pattern, small enough to
 * read: no transform, no motion search. The first frame (IDR) codes background macroblocks as
 * I_16x16 DC prediction with no residual (they copy their flat neighbours, a few bits each) and
 * everything else as I_PCM (raw samples); later frames (P) skip every macroblock that did not
 * change (P_Skip: the motion vector predicted from all-zero neighbours is zero, so it copies the
 * previous frame) and send the changed ones as I_PCM. Deblocking is off, so every decoded frame
 * is exactly the drawn one.
 */

export interface H264Stream {
  /** Parameter sets and one slice NAL unit per frame, each escaped, without start codes. */
  sps: Uint8Array;
  pps: Uint8Array;
  frames: Uint8Array[];
  profileIdc: number;
  constraintFlags: number;
  levelIdc: number;
}

export interface EncodeOptions {
  /** The visible size; odd sizes are coded one pixel larger (4:2:0 crops in pairs). */
  width: number;
  height: number;
  frames: number;
  /** The picture of frame `index`. */
  scene(index: number): Scene;
}

const PROFILE_BASELINE = 66;
// constraint_set0 and constraint_set1: Constrained Baseline, which every decoder plays.
const CONSTRAINT_FLAGS = 0xc0;
const LOG2_MAX_FRAME_NUM = 16;
const MB_I_16x16_DC_NO_RESIDUAL = 3; // I_16x16_2_0_0
const MB_I_PCM = 25;
const P_SLICE_INTRA_OFFSET = 5;
const NAL_SLICE = 1;
const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;

export function encodeH264(options: EncodeOptions): H264Stream {
  const codedWidth = options.width + (options.width % 2);
  const codedHeight = options.height + (options.height % 2);
  const mbWidth = Math.ceil(codedWidth / 16);
  const mbHeight = Math.ceil(codedHeight / 16);
  const levelIdc = levelFor(mbWidth, mbHeight);
  const frames: Uint8Array[] = [];
  let previous = options.scene(0);
  frames.push(nal(3, NAL_IDR, idrSlice(previous, mbWidth, mbHeight)));
  for (let index = 1; index < options.frames; index += 1) {
    const current = options.scene(index);
    frames.push(nal(2, NAL_SLICE, pSlice(previous, current, index, mbWidth, mbHeight)));
    previous = current;
  }
  return {
    sps: nal(3, NAL_SPS, sps(mbWidth, mbHeight, codedWidth, codedHeight, levelIdc)),
    pps: nal(3, NAL_PPS, pps()),
    frames,
    profileIdc: PROFILE_BASELINE,
    constraintFlags: CONSTRAINT_FLAGS,
    levelIdc,
  };
}

function sps(
  mbWidth: number,
  mbHeight: number,
  width: number,
  height: number,
  levelIdc: number,
): Uint8Array {
  const w = new BitWriter();
  w.bits(8, PROFILE_BASELINE);
  w.bits(8, CONSTRAINT_FLAGS);
  w.bits(8, levelIdc);
  w.ue(0); // seq_parameter_set_id
  w.ue(LOG2_MAX_FRAME_NUM - 4);
  w.ue(2); // pic_order_cnt_type 2: output order is decode order, nothing to signal
  w.ue(1); // max_num_ref_frames
  w.flag(false); // gaps_in_frame_num_value_allowed_flag
  w.ue(mbWidth - 1);
  w.ue(mbHeight - 1);
  w.flag(true); // frame_mbs_only_flag
  w.flag(true); // direct_8x8_inference_flag
  // Cropping counts pairs of pixels in 4:2:0 frames.
  const cropRight = (mbWidth * 16 - width) / 2;
  const cropBottom = (mbHeight * 16 - height) / 2;
  w.flag(cropRight > 0 || cropBottom > 0);
  if (cropRight > 0 || cropBottom > 0) {
    w.ue(0);
    w.ue(cropRight);
    w.ue(0);
    w.ue(cropBottom);
  }
  w.flag(true); // vui_parameters_present_flag: for the colours; the MP4 carries the timing
  w.flag(false); // aspect_ratio_info_present_flag: square pixels
  w.flag(false); // overscan_info_present_flag
  w.flag(true); // video_signal_type_present_flag
  w.bits(3, 5); // video_format: unspecified
  w.flag(false); // video_full_range_flag: 16-235
  w.flag(true); // colour_description_present_flag
  w.bits(8, 1); // colour_primaries: BT.709
  w.bits(8, 1); // transfer_characteristics: BT.709
  w.bits(8, 1); // matrix_coefficients: BT.709
  w.flag(false); // chroma_loc_info_present_flag
  w.flag(false); // timing_info_present_flag
  w.flag(false); // nal_hrd_parameters_present_flag
  w.flag(false); // vcl_hrd_parameters_present_flag
  w.flag(false); // pic_struct_present_flag
  w.flag(false); // bitstream_restriction_flag
  return trailing(w);
}

function pps(): Uint8Array {
  const w = new BitWriter();
  w.ue(0); // pic_parameter_set_id
  w.ue(0); // seq_parameter_set_id
  w.flag(false); // entropy_coding_mode_flag: CAVLC
  w.flag(false); // bottom_field_pic_order_in_frame_present_flag
  w.ue(0); // num_slice_groups_minus1
  w.ue(0); // num_ref_idx_l0_default_active_minus1
  w.ue(0); // num_ref_idx_l1_default_active_minus1
  w.flag(false); // weighted_pred_flag
  w.bits(2, 0); // weighted_bipred_idc
  w.se(0); // pic_init_qp_minus26
  w.se(0); // pic_init_qs_minus26
  w.se(0); // chroma_qp_index_offset
  w.flag(true); // deblocking_filter_control_present_flag: so slices can turn it off
  w.flag(false); // constrained_intra_pred_flag
  w.flag(false); // redundant_pic_cnt_present_flag
  return trailing(w);
}

function sliceHeader(w: BitWriter, idr: boolean, frameNum: number): void {
  w.ue(0); // first_mb_in_slice
  w.ue(idr ? 7 : 5); // slice_type: I or P, every slice of the picture
  w.ue(0); // pic_parameter_set_id
  w.bits(LOG2_MAX_FRAME_NUM, frameNum % 2 ** LOG2_MAX_FRAME_NUM);
  if (idr) {
    w.ue(0); // idr_pic_id
  } else {
    w.flag(false); // num_ref_idx_active_override_flag
    w.flag(false); // ref_pic_list_modification_flag_l0
  }
  // dec_ref_pic_marking
  if (idr) {
    w.flag(false); // no_output_of_prior_pics_flag
    w.flag(false); // long_term_reference_flag
  } else {
    w.flag(false); // adaptive_ref_pic_marking_mode_flag: sliding window
  }
  w.se(0); // slice_qp_delta
  w.ue(1); // disable_deblocking_filter_idc: off
}

function idrSlice(picture: Scene, mbWidth: number, mbHeight: number): Uint8Array {
  const count = mbWidth * mbHeight;
  const samples = new Uint8Array(384);
  // Flat background where no rectangle reaches.
  const flat = new Uint8Array(count).fill(1);
  for (const rect of picture.rects) {
    for (const index of macroblocksUnder(rect, mbWidth, mbHeight)) flat[index] = 0;
  }
  const pcm = new Uint8Array(count);
  const w = new BitWriter();
  sliceHeader(w, true, 0);
  for (let index = 0; index < count; index += 1) {
    const mbX = index % mbWidth;
    const mbY = Math.floor(index / mbWidth);
    const left = mbX > 0 ? index - 1 : -1;
    const top = mbY > 0 ? index - mbWidth : -1;
    // DC prediction reproduces the background exactly when every neighbour it reads is flat.
    const predictable =
      flat[index] === 1 &&
      (left >= 0 || top >= 0) &&
      (left < 0 || flat[left] === 1) &&
      (top < 0 || flat[top] === 1);
    if (predictable) {
      w.ue(MB_I_16x16_DC_NO_RESIDUAL);
      w.ue(0); // intra_chroma_pred_mode: DC
      w.se(0); // mb_qp_delta
      // The luma DC block, with no coefficients; its code depends on the neighbours' counts,
      // and an I_PCM neighbour counts 16.
      const counts = [left, top].filter((n) => n >= 0).map((n) => (pcm[n] === 1 ? 16 : 0));
      const nC =
        counts.length === 2 ? ((counts[0] ?? 0) + (counts[1] ?? 0) + 1) >> 1 : (counts[0] ?? 0);
      noCoefficients(w, nC);
    } else {
      pcm[index] = 1;
      w.ue(MB_I_PCM);
      pcmSamples(w, picture, mbX, mbY, samples);
    }
  }
  return trailing(w);
}

function pSlice(
  previous: Scene,
  current: Scene,
  frameNum: number,
  mbWidth: number,
  mbHeight: number,
): Uint8Array {
  // Only under a rectangle that moved, appeared or went can a macroblock differ from the last
  // frame (the rectangles are painted in the same order in every frame).
  const key = (rect: Rect) =>
    `${rect.x0},${rect.y0},${rect.x1},${rect.y1},${rect.color.y},${rect.color.cb},${rect.color.cr}`;
  const before = new Set(previous.rects.map(key));
  const after = new Set(current.rects.map(key));
  const candidates = new Set<number>();
  for (const rect of [
    ...previous.rects.filter((rect) => !after.has(key(rect))),
    ...current.rects.filter((rect) => !before.has(key(rect))),
  ]) {
    for (const index of macroblocksUnder(rect, mbWidth, mbHeight)) candidates.add(index);
  }
  const was = new Uint8Array(384);
  const now = new Uint8Array(384);
  const changed = [...candidates]
    .sort((a, b) => a - b)
    .filter((index) => {
      const mbX = index % mbWidth;
      const mbY = Math.floor(index / mbWidth);
      drawMacroblock(previous, mbX, mbY, was);
      drawMacroblock(current, mbX, mbY, now);
      return Buffer.compare(was, now) !== 0;
    });

  const w = new BitWriter();
  sliceHeader(w, false, frameNum);
  let next = 0;
  for (const index of changed) {
    w.ue(index - next); // mb_skip_run
    w.ue(P_SLICE_INTRA_OFFSET + MB_I_PCM);
    pcmSamples(w, current, index % mbWidth, Math.floor(index / mbWidth), now);
    next = index + 1;
  }
  const count = mbWidth * mbHeight;
  if (next < count) w.ue(count - next);
  return trailing(w);
}

function pcmSamples(w: BitWriter, picture: Scene, mbX: number, mbY: number, samples: Uint8Array) {
  w.align(0); // pcm_alignment_zero_bit
  drawMacroblock(picture, mbX, mbY, samples);
  w.bytes(samples);
}

/** coeff_token for TotalCoeff 0, TrailingOnes 0 (table 9-5), by the predicted count nC. */
function noCoefficients(w: BitWriter, nC: number): void {
  if (nC < 2) w.bits(1, 0b1);
  else if (nC < 4) w.bits(2, 0b11);
  else if (nC < 8) w.bits(4, 0b1111);
  else w.bits(6, 0b000011);
}

function trailing(w: BitWriter): Uint8Array {
  w.bits(1, 1); // rbsp_stop_one_bit
  w.align(0);
  return w.finish();
}

/**
 * A NAL unit: its header, then the payload with an emulation prevention byte (3) after every
 * two zero bytes that a byte of 0-3 follows, so no start code appears inside it.
 */
function nal(refIdc: number, type: number, rbsp: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + rbsp.length + Math.ceil(rbsp.length / 2));
  out[0] = (refIdc << 5) | type;
  let length = 1;
  let copied = 0;
  let zero = rbsp.indexOf(0);
  while (zero >= 0 && zero + 2 < rbsp.length) {
    if (rbsp[zero + 1] === 0 && (rbsp[zero + 2] ?? 0) <= 3) {
      out.set(rbsp.subarray(copied, zero + 2), length);
      length += zero + 2 - copied;
      out[length++] = 3;
      copied = zero + 2;
      zero = rbsp.indexOf(0, zero + 2);
    } else {
      zero = rbsp.indexOf(0, zero + 1);
    }
  }
  out.set(rbsp.subarray(copied), length);
  length += rbsp.length - copied;
  return out.slice(0, length);
}

// Table A-1: level_idc, MaxFS (macroblocks a frame), largest first match wins.
const LEVELS: [number, number][] = [
  [20, 396],
  [21, 792],
  [30, 1620],
  [31, 3600],
  [32, 5120],
  [40, 8192],
  [50, 22080],
  [51, 36864],
];

/** The lowest level whose frame size holds the picture (a side may be at most sqrt(8 x MaxFS)). */
function levelFor(mbWidth: number, mbHeight: number): number {
  const fits = ([, maxFs]: [number, number]) =>
    mbWidth * mbHeight <= maxFs && Math.max(mbWidth, mbHeight) ** 2 <= 8 * maxFs;
  return (LEVELS.find(fits) ?? [52])[0];
}
