/**
 * A lossless WebP (VP8L) encoder for images of at most four colours, as the simulator's
 * thumbnails are: a colour-indexing transform packs four pixels into one byte, and every byte is
 * written with one fixed 8-bit code (2 bits a pixel, no entropy modelling). Small and exact.
 */
export function encodeWebpFewColors(rgb: Uint8Array, width: number, height: number): Buffer {
  const colors: number[] = [];
  const indices = new Uint8Array(width * height);
  for (let pixel = 0; pixel < width * height; pixel += 1) {
    const argb =
      (0xff << 24) |
      ((rgb[pixel * 3] ?? 0) << 16) |
      ((rgb[pixel * 3 + 1] ?? 0) << 8) |
      (rgb[pixel * 3 + 2] ?? 0);
    let index = colors.indexOf(argb);
    if (index < 0) {
      if (colors.length === 4)
        throw new Error('encodeWebpFewColors: the image has more than four colors');
      index = colors.push(argb) - 1;
    }
    indices[pixel] = index;
  }
  // Four entries, so that packing is always four pixels (2 bits each) to a byte.
  while (colors.length < 4) colors.push(colors[colors.length - 1] ?? 0xff00_0000);

  const w = new LsbWriter();
  w.bits(8, 0x2f); // signature
  w.bits(14, width - 1);
  w.bits(14, height - 1);
  w.bits(1, 0); // alpha_is_used
  w.bits(3, 0); // version
  w.bits(1, 1); // a transform follows
  w.bits(2, 3); // COLOR_INDEXING_TRANSFORM
  w.bits(8, colors.length - 1);
  // The colour table: a 4 x 1 image of deltas from the previous entry, channel by channel.
  w.bits(1, 0); // no colour cache
  for (let code = 0; code < 4; code += 1) uniformCode(w, code === 0 ? 280 : 256);
  singleSymbolCode(w, 0); // distances: none used
  for (const [index, argb] of colors.entries()) {
    const previous = index === 0 ? 0 : (colors[index - 1] ?? 0);
    const delta = (shift: number) =>
      (((argb >>> shift) & 0xff) - ((previous >>> shift) & 0xff)) & 0xff;
    for (const shift of [8, 16, 0, 24]) w.code8(delta(shift)); // green, red, blue, alpha
  }
  w.bits(1, 0); // no more transforms

  // The packed image: green carries four 2-bit indices, the first pixel in the low bits.
  const packedWidth = Math.ceil(width / 4);
  w.bits(1, 0); // no colour cache
  w.bits(1, 0); // one prefix-code group for the whole image
  uniformCode(w, 280); // green
  singleSymbolCode(w, 0); // red
  singleSymbolCode(w, 0); // blue
  singleSymbolCode(w, 0); // alpha
  singleSymbolCode(w, 0); // distances
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < packedWidth; x += 1) {
      let packed = 0;
      for (let k = 0; k < 4 && 4 * x + k < width; k += 1) {
        packed |= (indices[y * width + 4 * x + k] ?? 0) << (2 * k);
      }
      w.code8(packed);
    }
  }
  const data = w.finish();

  const chunkPadding = data.length % 2;
  const riff = Buffer.alloc(20 + data.length + chunkPadding);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(riff.length - 8, 4);
  riff.write('WEBPVP8L', 8, 'latin1');
  riff.writeUInt32LE(data.length, 16);
  riff.set(data, 20);
  return riff;
}

/**
 * A prefix code giving the first 256 symbols of the alphabet 8 bits each (the rest none),
 * written as a "normal" code whose code-length code knows two lengths, 0 and 8, one bit each.
 */
function uniformCode(w: LsbWriter, alphabetSize: number): void {
  w.bits(1, 0); // normal code
  // The code-length code's lengths are sent in a fixed order; length 8 is the 12th.
  const order = [17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8];
  w.bits(4, order.length - 4);
  for (const symbol of order) w.bits(3, symbol === 0 || symbol === 8 ? 1 : 0);
  w.bits(1, 0); // every symbol's length follows
  // Canonical codes: length 0 is code 0, length 8 is code 1.
  for (let symbol = 0; symbol < alphabetSize; symbol += 1) w.bits(1, symbol < 256 ? 1 : 0);
}

/** A prefix code with one symbol, which then costs no bits. */
function singleSymbolCode(w: LsbWriter, symbol: number): void {
  w.bits(1, 1); // simple code
  w.bits(1, 0); // one symbol
  w.bits(1, 1); // in 8 bits
  w.bits(8, symbol);
}

/** VP8L packs bits from the least significant bit of each byte. */
class LsbWriter {
  #bytes: number[] = [];
  #value = 0;
  #count = 0;

  bits(count: number, value: number): void {
    for (let bit = 0; bit < count; bit += 1) {
      this.#value |= ((value >>> bit) & 1) << this.#count;
      this.#count += 1;
      if (this.#count === 8) {
        this.#bytes.push(this.#value);
        this.#value = 0;
        this.#count = 0;
      }
    }
  }

  /** A symbol of a uniform 8-bit prefix code: its canonical code, first bit first. */
  code8(symbol: number): void {
    for (let bit = 7; bit >= 0; bit -= 1) this.bits(1, (symbol >>> bit) & 1);
  }

  finish(): Uint8Array {
    if (this.#count > 0) this.bits(8 - this.#count, 0);
    return Uint8Array.from(this.#bytes);
  }
}
