import { randomInt } from 'node:crypto'

/**
 * The most socket writes one handshake flight is cut into. With TCP_NODELAY each write leaves as its own
 * segment(s) on an idle connection, so the first packets' sizes vary per connection instead of being
 * "96 + len(PadA)" exactly (BiglyBT, the spec's origin, scatters its first bytes the same way; classifiers
 * that identify MSE from the sizes of a flow's first packets lean on fixed-size first flights).
 */
export const MAX_FLIGHT_WRITES = 4

/**
 * Cuts `bytes` into 1..maxPieces pieces at cut points drawn uniformly from the CSPRNG (no empty piece).
 * The pieces are views of `bytes`, in order: their concatenation is `bytes`.
 */
export function scatterFlight (bytes: Uint8Array, maxPieces = MAX_FLIGHT_WRITES): Uint8Array[] {
  const pieces = Math.min(bytes.length, 1 + randomInt(Math.max(1, maxPieces)))
  if (pieces <= 1) return [bytes]
  const cuts = new Set<number>()
  // Distinct cut points in 1..length-1; pieces - 1 <= length - 1, and the retries are bounded.
  for (let attempt = 0; cuts.size < pieces - 1 && attempt < 64; attempt++) cuts.add(1 + randomInt(bytes.length - 1))
  const ordered = [...cuts].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let start = 0
  for (const cut of ordered) {
    out.push(bytes.subarray(start, cut))
    start = cut
  }
  out.push(bytes.subarray(start))
  return out
}
