/**
 * Deterministic RandomSource for known-answer transcripts (the same definition is written out in
 * scripts/make-transcripts.ts and in the fixture): block i = SHA-256(UTF-8(seed) || uint32be(i)),
 * i = 0, 1, 2, ...; the stream is the blocks concatenated; each call random(n) takes the next n bytes.
 */
import { createHash } from 'node:crypto'

export type Random = (length: number) => Uint8Array

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

/** A tiny seeded PRNG for choosing test inputs (not for key material). xorshift32 over a seed hash. */
export function prng (seed: string): { next: () => number, int: (n: number) => number, bytes: (n: number) => Uint8Array } {
  const d = drbg('prng:' + seed)
  const next = (): number => {
    const b = d(4)
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0
  }
  return {
    next,
    int: (n: number) => next() % n,
    bytes: (n: number) => d(n)
  }
}

/**
 * `drbg(seed)`, except that the k-th 2-byte draw (the k-th pad length the handshake draws: PadA then PadC
 * for an initiator, PadB then PadD for a responder) yields `lengths[k]` when given. Pins pad lengths for
 * tests of the PadC/PadD extension, through the same `random` option and sampling as the product.
 */
export function withPadLengths (seed: string, lengths: (number | undefined)[]): Random {
  const random = drbg(seed)
  let draw = 0
  return (length: number) => {
    const bytes = random(length)
    if (length !== 2) return bytes
    const wanted = lengths[draw++]
    return wanted === undefined ? bytes : Uint8Array.of(wanted >> 8, wanted & 0xff)
  }
}
