/** A small seeded pseudo-random generator (mulberry32): reproducible runs, not cryptography. */
export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** A float in [min, max). */
  between(min: number, max: number): number;
  /** `bytes` random bytes as lowercase hex. */
  hex(bytes: number): string;
}

/**
 * One independent stream per concern (ids, durations, faults...), so drawing from one (say an
 * injected fault) never shifts another (the ids a seed produces).
 */
export function createPrng(seed: number, stream: string): Prng {
  let state = mix(seed, stream);
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    between: (min, max) => min + (max - min) * next(),
    hex: (bytes) => {
      let out = '';
      for (let i = 0; i < bytes; i++) {
        out += Math.floor(next() * 256)
          .toString(16)
          .padStart(2, '0');
      }
      return out;
    },
  };
}

// FNV-1a over the stream name, folded with the seed.
function mix(seed: number, stream: string): number {
  let hash = 0x811c9dc5 ^ (seed | 0) ^ Math.floor(seed / 4_294_967_296);
  for (let i = 0; i < stream.length; i++) {
    hash ^= stream.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
