/**
 * AES-128-CTR keys of a connection, from the same 20-byte hashes that key RC4 (MSE spec):
 * HASH('keyA', S, SKEY) for A's direction, HASH('keyB', S, SKEY) for B's. The mapping of the draft BEP
 * (bittorrent.org PR #179, libtorrent PR #8585): the first 16 bytes are the AES-128 key, the last 4 the
 * nonce. The draft leaves the counter layout open; ours: counter block = nonce (4) | 12 zero bytes, the
 * whole block incremented as one big-endian number per 16-byte block (OpenSSL's aes-128-ctr). 2^96 blocks
 * per direction before the nonce would change: never reached.
 *
 * S is fresh per connection (new DH keys), and keyA / keyB differ, so no key and counter pair repeats
 * across connections or directions.
 */
import { AES_BLOCK_LENGTH, HASH_LENGTH } from '../constants.js'

export const AES_KEY_LENGTH = 16

export function aesCtrParameters (keyHash: Uint8Array): { key: Uint8Array, counterBlock: Uint8Array } {
  if (keyHash.length !== HASH_LENGTH) throw new RangeError(`key hash must be ${HASH_LENGTH} bytes`)
  const counterBlock = new Uint8Array(AES_BLOCK_LENGTH)
  counterBlock.set(keyHash.subarray(AES_KEY_LENGTH, HASH_LENGTH), 0)
  return { key: keyHash.slice(0, AES_KEY_LENGTH), counterBlock }
}
