/**
 * Uniform [0, 1) sources for the algorithms: a seeded one for reproducible runs (client choice,
 * data partitions, tests) and a cryptographic one for privacy noise, where a predictable
 * generator would let an observer subtract the noise.
 */

/** A source of uniform numbers in [0, 1). */
export type RandomSource = () => number;

/** mulberry32: a small, fast, seeded 32-bit generator (not for secrets). */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface WebCrypto {
  getRandomValues<T extends Uint32Array>(array: T): T;
}

/**
 * A cryptographically secure source (Web Crypto's `getRandomValues`, global in Node ≥ 19), with
 * 53 random bits per number, drawn in blocks of 8 KiB.
 */
export function secureRandom(): RandomSource {
  const crypto = (globalThis as { crypto?: WebCrypto }).crypto;
  if (crypto === undefined) throw new Error('Web Crypto (globalThis.crypto) is not available in this runtime');
  const words = new Uint32Array(2048);
  let at = words.length;
  return () => {
    if (at + 2 > words.length) {
      crypto.getRandomValues(words);
      at = 0;
    }
    const high = (words[at++] as number) >>> 5; // 27 bits
    const low = (words[at++] as number) >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  };
}
