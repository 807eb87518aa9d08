import type { CipherAlgorithm, StreamCipher } from './stream-cipher.js'

/** One running keystream of a library: XORs its input with the next keystream bytes, into new memory. */
export interface LibraryKeystream {
  update (input: Uint8Array): Uint8Array
}

/** Starts a library keystream at byte `position` of the cipher's stream (0: the first payload byte). */
export type KeystreamStart = (position: number) => LibraryKeystream

/**
 * A stream cipher whose keystream a library runs (OpenSSL's RC4 and AES-128-CTR, node-forge's AES), with
 * the buffer contract of `StreamCipher`. Such libraries write every result to new memory, so
 * `processOwned` returns it rather than copying it back. The one thing that differs per cipher is how a
 * keystream starts at a position (`start`): RC4 replays its stream, CTR jumps to the counter block.
 */
export class LibraryCipher implements StreamCipher {
  readonly algorithm: CipherAlgorithm
  readonly backend: 'js' | 'openssl'
  private readonly start: KeystreamStart
  private readonly keystream: LibraryKeystream
  /** Keystream bytes consumed: where `clone()` starts its copy. */
  private position: number

  constructor (algorithm: CipherAlgorithm, backend: 'js' | 'openssl', start: KeystreamStart, position = 0) {
    this.algorithm = algorithm
    this.backend = backend
    this.start = start
    this.position = position
    this.keystream = start(position)
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

  clone (): StreamCipher {
    return new LibraryCipher(this.algorithm, this.backend, this.start, this.position)
  }
}
