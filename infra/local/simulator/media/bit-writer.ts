/** Writes a bitstream most significant bit first, as H.264 and JPEG read it. */
export class BitWriter {
  #bytes = new Uint8Array(1024);
  #length = 0;
  /** Bits waiting to fill the next byte, and how many there are (0-7). */
  #pending = 0;
  #pendingBits = 0;

  /** Writes the low `count` bits of `value` (count <= 24). */
  bits(count: number, value: number): void {
    for (let bit = count - 1; bit >= 0; bit -= 1) {
      this.#pending = (this.#pending << 1) | ((value >>> bit) & 1);
      this.#pendingBits += 1;
      if (this.#pendingBits === 8) {
        this.#push(this.#pending);
        this.#pending = 0;
        this.#pendingBits = 0;
      }
    }
  }

  flag(value: boolean): void {
    this.bits(1, value ? 1 : 0);
  }

  /** Unsigned Exp-Golomb, ue(v). */
  ue(value: number): void {
    const coded = value + 1;
    const length = 32 - Math.clz32(coded);
    this.bits(length - 1, 0);
    this.bits(length, coded);
  }

  /** Signed Exp-Golomb, se(v). */
  se(value: number): void {
    this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }

  get aligned(): boolean {
    return this.#pendingBits === 0;
  }

  /** Pads with `fill` bits to the next byte boundary. */
  align(fill: 0 | 1 = 0): void {
    while (this.#pendingBits !== 0) this.bits(1, fill);
  }

  /** Whole bytes; the writer must be byte-aligned. */
  bytes(data: Uint8Array): void {
    if (this.#pendingBits !== 0) throw new Error('BitWriter.bytes needs a byte boundary');
    this.#reserve(data.length);
    this.#bytes.set(data, this.#length);
    this.#length += data.length;
  }

  /** The bytes written; a partial last byte must have been aligned first. */
  finish(): Uint8Array {
    if (this.#pendingBits !== 0) throw new Error('BitWriter.finish needs a byte boundary');
    return this.#bytes.slice(0, this.#length);
  }

  #push(byte: number): void {
    this.#reserve(1);
    this.#bytes[this.#length] = byte;
    this.#length += 1;
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + extra));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}
