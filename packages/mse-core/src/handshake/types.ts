import type { StreamCipher } from '../crypto/stream-cipher.js'
import type { MseError } from '../errors.js'

export type Role = 'initiator' | 'responder'

/**
 * - `rc4`: MSE handshake, RC4 payload.
 * - `aes-128-ctr`: MSE handshake, AES-128-CTR payload: both peers run this project's extension
 *   (docs/mse-extension.md). Other clients never see it.
 * - `plaintext-after-mse`: MSE handshake (header obfuscated, IA encrypted), then plaintext payload.
 * - `plaintext`: no MSE at all (a plaintext BitTorrent handshake was detected by the responder).
 */
export type NegotiatedMethod = 'rc4' | 'aes-128-ctr' | 'plaintext-after-mse' | 'plaintext'

export type HandshakeStage =
  | 'start'
  | 'peer-key'
  | 'sync'
  | 'crypto-header'
  | 'done'
  | 'failed'

export interface HandshakeResult {
  role: Role
  method: NegotiatedMethod
  /** The SKEY used (initiator) or matched (responder); absent for a plaintext connection. */
  infoHash?: Uint8Array
  cryptoProvide?: number
  cryptoSelect?: number
  /**
   * Encrypts our payload from now on (rc4 and aes-128-ctr). RC4 continues the handshake's keystream;
   * AES-128-CTR starts at counter 0 with the first payload byte (`algorithm` says which).
   */
  encryptor?: StreamCipher
  /** Decrypts the peer's payload from now on (rc4 and aes-128-ctr). */
  decryptor?: StreamCipher
  /**
   * The peer proved, with a valid extension tag keyed from S, that it runs this project's extension:
   * it speaks MSE. False for other clients (and when the drawn pads were too short to carry it).
   */
  peerExtension: boolean
  /**
   * Payload bytes of the peer already received, in order and already decrypted: for a responder the IA
   * and what followed it, for an initiator what followed PadD, for a plaintext connection every byte.
   * Deliver these first, then decrypt later bytes with `decryptor`.
   */
  payload: Uint8Array
  /**
   * Responder: the initiator masked HASH('req2', SKEY) with HASH('req3', S) taken over S without its leading
   * zero bytes, as libtorrent-rasterbar up to 2.0.12 and rakshasa's libtorrent do, and it was accepted
   * (possible only when S begins with a zero byte: about 1 of their handshakes in 256). False otherwise
   * (optional in the type only, for results a caller builds itself: the handshakes always set it).
   */
  peerHashedUnpaddedSecret?: boolean
  /** Length of the IA sent (initiator) or received (responder). */
  initialPayloadLength: number
  /** Handshake bytes only; payload is not counted. */
  handshakeBytesSent: number
  handshakeBytesReceived: number
}

/** What one call returns: bytes to send now, and whether the handshake ended. */
export type HandshakeStep =
  | { status: 'pending', send: Uint8Array }
  | { status: 'done', send: Uint8Array, result: HandshakeResult }
  | { status: 'failed', send: Uint8Array, error: MseError }
