import { AES_BLOCK_LENGTH } from '../constants.js'
import { LibraryCipher, type LibraryKeystream } from './library-cipher.js'

/** Starts a library's AES-128-CTR keystream at a 16-byte initial counter block. */
export type CtrFactory = (key: Uint8Array, counterBlock: Uint8Array) => LibraryKeystream

/**
 * AES-128-CTR with the same buffer contract as RC4 (`StreamCipher`). The counter block is one 128-bit
 * big-endian number incremented per 16-byte block (NIST SP 800-38A, the way OpenSSL's `aes-128-ctr` counts);
 * the library behind `factory` does the block work. Unlike RC4, a keystream at any position is cheap: it
 * starts at the right counter block instead of replaying the bytes.
 */
export class AesCtr extends LibraryCipher {
  constructor (backend: 'js' | 'openssl', factory: CtrFactory, key: Uint8Array, initialCounter: Uint8Array) {
    if (key.length !== 16) throw new RangeError('AES-128 key must be 16 bytes')
    if (initialCounter.length !== AES_BLOCK_LENGTH) throw new RangeError('AES-CTR counter block must be 16 bytes')
    const ownKey = key.slice()
    const counter = initialCounter.slice()
    super('aes-128-ctr', backend, position => {
      const keystream = factory(ownKey, addToCounter(counter, Math.floor(position / AES_BLOCK_LENGTH)))
      const intoBlock = position % AES_BLOCK_LENGTH
      if (intoBlock > 0) keystream.update(new Uint8Array(intoBlock))
      return keystream
    })
  }
}

/** `counter + blocks` as 128-bit big-endian numbers (wrapping, as CTR counters do). */
export function addToCounter (counter: Uint8Array, blocks: number): Uint8Array {
  const out = counter.slice()
  let carry = blocks
  for (let i = out.length - 1; i >= 0 && carry > 0; i--) {
    const sum = out[i]! + (carry % 256)
    out[i] = sum & 0xff
    carry = Math.floor(carry / 256) + (sum >> 8)
  }
  return out
}
