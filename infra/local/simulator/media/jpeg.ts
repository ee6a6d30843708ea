import { BitWriter } from './bit-writer.ts';

/**
 * A baseline JPEG encoder (JFIF, 4:4:4, the standard tables of ITU T.81 annex K): enough for the
 * simulator's spritesheets, whose flat frames are mostly blocks with a DC coefficient only.
 */
export function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality = 90): Buffer {
  const luma = scaledTable(LUMA_QUANT, quality);
  const chroma = scaledTable(CHROMA_QUANT, quality);
  const dcLuma = huffmanCodes(DC_LUMA_BITS, DC_VALUES);
  const acLuma = huffmanCodes(AC_LUMA_BITS, AC_LUMA_VALUES);
  const dcChroma = huffmanCodes(DC_CHROMA_BITS, DC_VALUES);
  const acChroma = huffmanCodes(AC_CHROMA_BITS, AC_CHROMA_VALUES);
  const components = [
    { quant: luma, dc: dcLuma, ac: acLuma, previousDc: 0 },
    { quant: chroma, dc: dcChroma, ac: acChroma, previousDc: 0 },
    { quant: chroma, dc: dcChroma, ac: acChroma, previousDc: 0 },
  ];

  const w = new BitWriter();
  const block = new Float64Array(64);
  for (let blockY = 0; blockY < height; blockY += 8) {
    for (let blockX = 0; blockX < width; blockX += 8) {
      for (const [index, component] of components.entries()) {
        for (let y = 0; y < 8; y += 1) {
          for (let x = 0; x < 8; x += 1) {
            // Past the right or bottom edge, the edge pixel repeats.
            const px = Math.min(blockX + x, width - 1);
            const py = Math.min(blockY + y, height - 1);
            const at = (py * width + px) * 3;
            block[y * 8 + x] = ycbcr(rgb[at] ?? 0, rgb[at + 1] ?? 0, rgb[at + 2] ?? 0, index) - 128;
          }
        }
        const coefficients = quantize(forwardDct(block), component.quant);
        const dc = coefficients[0] ?? 0;
        writeValue(w, component.dc, 0, dc - component.previousDc);
        component.previousDc = dc;
        let run = 0;
        for (let k = 1; k < 64; k += 1) {
          const value = coefficients[ZIGZAG[k] ?? 0] ?? 0;
          if (value === 0) {
            run += 1;
            continue;
          }
          for (; run > 15; run -= 16) writeCode(w, component.ac, 0xf0);
          writeValue(w, component.ac, run << 4, value);
          run = 0;
        }
        if (run > 0) writeCode(w, component.ac, 0x00); // end of block
      }
    }
  }
  w.align(1);
  const scan = stuffed(w.finish());

  return Buffer.concat([
    marker(0xd8),
    segment(0xe0, [...Buffer.from('JFIF\0', 'latin1'), 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    segment(0xdb, [0, ...ZIGZAG.map((n) => luma[n] ?? 1), 1, ...ZIGZAG.map((n) => chroma[n] ?? 1)]),
    segment(0xc0, [
      8,
      height >> 8,
      height & 0xff,
      width >> 8,
      width & 0xff,
      3,
      1,
      0x11,
      0,
      2,
      0x11,
      1,
      3,
      0x11,
      1,
    ]),
    segment(0xc4, [
      0x00,
      ...DC_LUMA_BITS,
      ...DC_VALUES,
      0x10,
      ...AC_LUMA_BITS,
      ...AC_LUMA_VALUES,
      0x01,
      ...DC_CHROMA_BITS,
      ...DC_VALUES,
      0x11,
      ...AC_CHROMA_BITS,
      ...AC_CHROMA_VALUES,
    ]),
    segment(0xda, [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]),
    scan,
    marker(0xd9),
  ]);
}

/** JFIF's full-range YCbCr, one component. */
function ycbcr(r: number, g: number, b: number, component: number): number {
  if (component === 0) return 0.299 * r + 0.587 * g + 0.114 * b;
  if (component === 1) return -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
  return 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
}

const COSINES = Array.from({ length: 64 }, (_, i) => {
  const u = Math.floor(i / 8);
  const x = i % 8;
  return ((u === 0 ? Math.SQRT1_2 : 1) / 2) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
});

/** The 2-D DCT-II: the 1-D one along the rows, then (the result transposed) along the columns. */
function forwardDct(block: Float64Array): Float64Array {
  // Most blocks of a flat picture are one colour: only the DC term, 8 x the level.
  const first = block[0] ?? 0;
  if (block.every((sample) => sample === first)) {
    const flat = new Float64Array(64);
    flat[0] = 8 * first;
    return flat;
  }
  return dctOfRowsTransposed(dctOfRowsTransposed(block));
}

/** The 1-D DCT of each row of `block`, each written as a column of the result. */
function dctOfRowsTransposed(block: Float64Array): Float64Array {
  const out = new Float64Array(64);
  for (let row = 0; row < 8; row += 1) {
    for (let u = 0; u < 8; u += 1) {
      let sum = 0;
      for (let x = 0; x < 8; x += 1) sum += (COSINES[u * 8 + x] ?? 0) * (block[row * 8 + x] ?? 0);
      out[u * 8 + row] = sum;
    }
  }
  return out;
}

function quantize(coefficients: Float64Array, table: number[]): Int32Array {
  const quantized = new Int32Array(64);
  for (let n = 0; n < 64; n += 1)
    quantized[n] = Math.round((coefficients[n] ?? 0) / (table[n] ?? 1));
  return quantized;
}

type Codes = Map<number, { code: number; length: number }>;

/** Canonical codes from a DHT's counts per length and its symbols. */
function huffmanCodes(bits: number[], values: number[]): Codes {
  const codes: Codes = new Map();
  let code = 0;
  let next = 0;
  for (let length = 1; length <= 16; length += 1) {
    for (let i = 0; i < (bits[length - 1] ?? 0); i += 1) {
      codes.set(values[next] ?? 0, { code, length });
      code += 1;
      next += 1;
    }
    code <<= 1;
  }
  return codes;
}

function writeCode(w: BitWriter, codes: Codes, symbol: number): void {
  const entry = codes.get(symbol);
  if (!entry) throw new Error(`JPEG: no Huffman code for symbol ${symbol}`);
  w.bits(entry.length, entry.code);
}

/** A coefficient: its size category (with a run in the high nibble) coded, then its bits. */
function writeValue(w: BitWriter, codes: Codes, run: number, value: number): void {
  const size = value === 0 ? 0 : 32 - Math.clz32(Math.abs(value));
  writeCode(w, codes, run | size);
  if (size > 0) w.bits(size, value < 0 ? value + (1 << size) - 1 : value);
}

/** Entropy-coded data: a 0xFF byte is followed by a 0x00 so it is not read as a marker. */
function stuffed(data: Uint8Array): Buffer {
  const out: number[] = [];
  for (const byte of data) {
    out.push(byte);
    if (byte === 0xff) out.push(0);
  }
  return Buffer.from(out);
}

const marker = (code: number): Buffer => Buffer.from([0xff, code]);

function segment(code: number, payload: number[]): Buffer {
  const length = payload.length + 2;
  return Buffer.from([0xff, code, length >> 8, length & 0xff, ...payload]);
}

/** IJG quality scaling of a base table (natural order). */
function scaledTable(base: number[], quality: number): number[] {
  const scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  return base.map((q) => Math.min(255, Math.max(1, Math.floor((q * scale + 50) / 100))));
}

function decimals(text: string): number[] {
  return text.split(' ').map(Number);
}

function hexBytes(text: string): number[] {
  return [...Buffer.from(text, 'hex')];
}

// The standard tables, each on one line. Quantization tables are in natural order, row by row.
const ZIGZAG = decimals(
  '0 1 8 16 9 2 3 10 17 24 32 25 18 11 4 5 12 19 26 33 40 48 41 34 27 20 13 6 7 14 21 28 35 42 49 56 57 50 43 36 29 22 15 23 30 37 44 51 58 59 52 45 38 31 39 46 53 60 61 54 47 55 62 63',
);
const LUMA_QUANT = decimals(
  '16 11 10 16 24 40 51 61 12 12 14 19 26 58 60 55 14 13 16 24 40 57 69 56 14 17 22 29 51 87 80 62 18 22 37 56 68 109 103 77 24 35 55 64 81 104 113 92 49 64 78 87 103 121 120 101 72 92 95 98 112 100 103 99',
);
const CHROMA_QUANT = decimals(
  '17 18 24 47 99 99 99 99 18 21 26 66 99 99 99 99 24 26 56 99 99 99 99 99 47 66 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99 99',
);

// Huffman tables (annex K.3): how many codes of each length 1-16, then the symbols in code order.
const DC_LUMA_BITS = decimals('0 1 5 1 1 1 1 1 1 0 0 0 0 0 0 0');
const DC_CHROMA_BITS = decimals('0 3 1 1 1 1 1 1 1 1 1 0 0 0 0 0');
const DC_VALUES = decimals('0 1 2 3 4 5 6 7 8 9 10 11');
const AC_LUMA_BITS = decimals('0 2 1 3 3 2 4 3 5 5 4 4 0 0 1 125');
const AC_CHROMA_BITS = decimals('0 2 1 2 4 4 3 4 7 5 4 4 0 1 2 119');
const AC_LUMA_VALUES = hexBytes(
  '01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa',
);
const AC_CHROMA_VALUES = hexBytes(
  '000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa',
);
