/**
 * The few primitives the handshake needs besides RC4, behind one small synchronous interface, so the
 * core runs on `node:crypto` (fast) or on node-forge (portable, and an independent oracle in tests).
 */
import type { StreamCipher } from './stream-cipher.js'

export interface CryptoProvider {
  readonly name: string
  /** An RC4 keystream with the first 1024 bytes discarded, on the provider's fastest backend. */
  createRc4 (key: Uint8Array): StreamCipher
  /**
   * An AES-128-CTR keystream starting at the 16-byte counter block `counterBlock` (incremented as one
   * 128-bit big-endian number). Only between peers of this project (docs/mse-extension.md).
   */
  createAes128Ctr (key: Uint8Array, counterBlock: Uint8Array): StreamCipher
  /** HMAC-SHA-256 (RFC 2104) of the concatenation of `parts` under `key` (32 bytes). */
  hmacSha256 (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array
  /** SHA-1 of the concatenation of `parts` (20 bytes). */
  sha1 (...parts: Uint8Array[]): Uint8Array
  /** Cryptographically secure random bytes. */
  randomBytes (length: number): Uint8Array
  /** Y = G^x mod P, 96 bytes big-endian, for a private key x. */
  dhPublicKey (privateKey: Uint8Array): Uint8Array
  /**
   * S = Y^x mod P, 96 bytes big-endian. `peerPublicKey` has already been checked to lie in [2, P-2]
   * (see `dh.ts`), so providers need not repeat that.
   */
  dhSharedSecret (privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array
}

/** Where randomness comes from. Tests inject a deterministic source to get known-answer transcripts. */
export type RandomSource = (length: number) => Uint8Array
