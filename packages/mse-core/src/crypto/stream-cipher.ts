/**
 * An RC4 keystream as the handshake and the stream layer use it. Two backends implement it: `Rc4`, the
 * portable JavaScript word loop, and `OpensslRc4`, Node's OpenSSL RC4 when the process has it.
 *
 * Buffer contract (both backends): `process(input)` never writes `input` and returns new bytes;
 * `processInPlace(buffer)` overwrites `buffer` and is only for buffers the caller owns outright.
 */
export interface StreamCipher {
  readonly backend: 'js' | 'openssl'
  process (input: Uint8Array): Uint8Array
  processInPlace (buffer: Uint8Array): Uint8Array
  /**
   * For a buffer handed over (nobody else will read it): returns `buffer` XOR keystream, written into
   * `buffer` or into new memory, whichever the backend does cheaper. The hot path for received chunks.
   */
  processOwned (buffer: Uint8Array): Uint8Array
  /** Advances the keystream by `count` bytes. */
  skip (count: number): void
  /** An independent copy at the same keystream position. */
  clone (): StreamCipher
}
