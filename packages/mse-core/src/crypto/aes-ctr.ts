import { AES_BLOCK_LENGTH } from '../constants.js'
import type { StreamCipher } from './stream-cipher.js'

/** One running AES-128-CTR keystream of a library: XORs its input with the next keystream bytes. */
export interface CtrKeystream {
  update (input: Uint8Array): Uint8Array
}

/** Starts a library's AES-128-CTR keystream at a 16-byte initial counter block. */
export type CtrFactory = (key: Uint8Array, counterBlock: Uint8Array) => CtrKeystream

/**
 * AES-128-CTR with the same buffer contract as RC4 (`StreamCipher`). The counter block is one 128-bit
 * big-endian number incremented per 16-byte block (NIST SP 800-38A, the way OpenSSL's `aes-128-ctr` counts);
 * the library behind `factory` does the block work. Unlike RC4, a copy at any position is cheap: `clone()`
 * starts a new keystream at the right block instead of replaying the bytes.
 */
export class AesCtr implements StreamCipher {
  readonly algorithm = 'aes-128-ctr'
  readonly backend: 'js' | 'openssl'
  private readonly key: Uint8Array
  private readonly initialCounter: Uint8Array
  private readonly factory: CtrFactory
  private keystream: CtrKeystream
  /** Keystream bytes consumed. */
  private position = 0

  constructor (backend: 'js' | 'openssl', factory: CtrFactory, key: Uint8Array, initialCounter: Uint8Array) {
    if (key.length !== 16) throw new RangeError('AES-128 key must be 16 bytes')
    if (initialCounter.length !== AES_BLOCK_LENGTH) throw new RangeError('AES-CTR counter block must be 16 bytes')
    this.backend = backend
    this.factory = factory
    this.key = key.slice()
    this.initialCounter = initialCounter.slice()
    this.keystream = factory(this.key, this.initialCounter)
  }

  process (input: Uint8Array): Uint8Array {
    this.position += input.length
    return this.keystream.update(input)
  }

  processInPlace (buffer: Uint8Array): Uint8Array {
    buffer.set(this.process(buffer))
    return buffer
  }

  /** The library writes new memory anyway: copying back into `buffer` would only add a copy. */
  processOwned (buffer: Uint8Array): Uint8Array {
    return this.process(buffer)
  }

  skip (count: number): void {
    if (count > 0) this.process(new Uint8Array(count))
  }

  clone (): AesCtr {
    const copy = new AesCtr(this.backend, this.factory, this.key, addToCounter(this.initialCounter, Math.floor(this.position / AES_BLOCK_LENGTH)))
    copy.skip(this.position % AES_BLOCK_LENGTH)
    copy.position = this.position
    return copy
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
