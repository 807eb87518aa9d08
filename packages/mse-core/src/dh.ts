import { DH_PRIME_HEX, KEY_LENGTH, PRIVATE_KEY_LENGTH } from './constants.js'
import { bytesToBigInt } from './bytes.js'
import type { RandomSource } from './crypto/provider.js'

const P = BigInt('0x' + DH_PRIME_HEX)

/**
 * A peer key Y is usable only in [2, P-2]. 0 and 1 make S known to anyone (0 or 1), P-1 makes it +-1, and
 * Y >= P is not a residue at all (OpenSSL throws). Checked before any exponentiation, on the exact 96 bytes.
 */
export function isValidPeerKey (y: Uint8Array): boolean {
  if (y.length !== KEY_LENGTH) return false
  const value = bytesToBigInt(y)
  return value >= 2n && value <= P - 2n
}

/** A fresh 160-bit private key (the spec's recommendation), never zero. Never reuse one that was sent. */
export function generatePrivateKey (random: RandomSource): Uint8Array {
  for (let attempt = 0; attempt < 8; attempt++) {
    const key = random(PRIVATE_KEY_LENGTH)
    if (key.some(byte => byte !== 0)) return key
  }
  throw new Error('random source returned only zero bytes')
}
