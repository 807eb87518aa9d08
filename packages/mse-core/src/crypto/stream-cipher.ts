/** The stream ciphers a connection's payload can run on (`StreamCipher.algorithm`). */
export type CipherAlgorithm = 'rc4' | 'aes-128-ctr'

/**
 * A keystream as the handshake and the stream layer use it. RC4 has two backends: `Rc4`, the portable
 * JavaScript word loop, and `OpensslRc4`, Node's OpenSSL RC4 when the process has it. AES-128-CTR
 * (`AesCtr`, negotiated only between peers of this project, see docs/mse-extension.md) runs on OpenSSL
 * or on node-forge. The library-backed ones share one wrapper, `LibraryCipher` (library-cipher.ts); they
 * differ only in how a keystream starts at a position.
 *
 * Buffer contract (both backends): `process(input)` never writes `input` and returns new bytes;
 * `processInPlace(buffer)` overwrites `buffer` and is only for buffers the caller owns outright.
 */
export interface StreamCipher {
  readonly algorithm: CipherAlgorithm
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
