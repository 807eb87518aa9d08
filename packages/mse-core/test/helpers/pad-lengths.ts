import { type Random, drbg } from 'test-support'

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
