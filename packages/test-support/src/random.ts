/**
 * Seeded, reproducible randomness for tests, fixtures and fuzzing. Three generators, one per need:
 * - `drbg`: the byte stream the known-answer transcripts are defined with (DRBG_DEFINITION, written into
 *   the fixtures, so it must never change);
 * - `prng`: numbers for choosing test inputs, drawn from a `drbg`;
 * - `seededBytes`: bulk data (AES-128-CTR keystream, fast enough for 64 MiB).
 * None of them is for key material outside tests.
 */
import { createCipheriv, createHash } from 'node:crypto'

export type Random = (length: number) => Uint8Array

export const DRBG_DEFINITION =
  'block i = SHA-256(UTF-8(seed) || uint32be(i)) for i = 0, 1, 2, ...; the stream is the blocks concatenated; ' +
  'each call random(n) returns the next n bytes of the stream'

/** The deterministic random source of DRBG_DEFINITION. */
export function drbg (seed: string): Random {
  let counter = 0
  let block = new Uint8Array(0)
  let used = 0
  return (length: number) => {
    const out = new Uint8Array(length)
    for (let k = 0; k < length; k++) {
      if (used === block.length) {
        const c = Buffer.alloc(4)
        c.writeUInt32BE(counter++)
        block = new Uint8Array(createHash('sha256').update(seed, 'utf8').update(c).digest())
        used = 0
      }
      out[k] = block[used++]!
    }
    return out
  }
}

export interface Prng {
  /** A uniform 32-bit unsigned integer. */
  next: () => number
  /** An integer in 0..n-1 (modulo bias is irrelevant for choosing test inputs). */
  int: (n: number) => number
  /** A float in [0, 1). */
  float: () => number
  bytes: (n: number) => Uint8Array
}

/** A seeded PRNG for choosing test inputs (not for key material), drawn from `drbg('prng:' + seed)`. */
export function prng (seed: string | number): Prng {
  const d = drbg('prng:' + String(seed))
  const next = (): number => {
    const b = d(4)
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0
  }
  return {
    next,
    int: (n: number) => next() % n,
    float: () => next() / 2 ** 32,
    bytes: (n: number) => d(n)
  }
}

/** `length` pseudo-random bytes determined by `seed`: the AES-128-CTR keystream under SHA-256(seed). */
export function seededBytes (length: number, seed: string | number): Buffer {
  const key = createHash('sha256').update(String(seed)).digest()
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32))
  return cipher.update(Buffer.alloc(length))
}

export function sha256 (...parts: Uint8Array[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest('hex')
}
