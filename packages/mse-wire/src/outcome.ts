import type { HandshakeStage, MseError, NegotiatedMethod, Role } from 'mse-core'

/** What every outcome says, success or failure. */
interface OutcomeBase {
  role: Role
  /** MSE handshake bytes (not payload) each way. */
  handshakeBytesSent: number
  handshakeBytesReceived: number
  /** Length of the IA that carried the BitTorrent handshake (0 when none; always 0 on failure). */
  initialPayloadLength: number
  durationMs: number
  /**
   * Whether the DH shared secret S began with a zero byte; absent when no S was computed. Peers that hash
   * an unpadded S fail on exactly these handshakes (see `isUnpaddedSecretRejection`).
   */
  secretHasLeadingZero?: boolean
  /**
   * The peer proved with a valid tag of this project's PadC/PadD extension that it is one of ours, so it
   * speaks MSE. Also true on failure with `negotiation-tampered`: someone on the path changed the
   * negotiation; the peer itself speaks MSE and must never be redialled in plaintext.
   */
  peerExtension: boolean
}

/** The stream carries payload: MSE succeeded, or a plaintext dial passed bytes through. */
export interface MseSuccess extends OutcomeBase {
  ok: true
  /**
   * The payload cipher. `aes-128-ctr` only between peers of this project (their PadC/PadD extension,
   * docs/mse-extension.md); `rc4` with every other MSE client; `plaintext` for a plaintext dial.
   */
  method: NegotiatedMethod
  /** Hex info hash (SKEY) used or matched; absent for plaintext connections. */
  infoHash?: string
  /**
   * Our responder accepted an initiator that hashed an unpadded S for HASH('req3', S) (libtorrent <= 2.0.12;
   * mse-core's `HandshakeResult.peerHashedUnpaddedSecret`).
   */
  peerHashedUnpaddedSecret?: boolean
  error?: undefined
  failedStage?: undefined
  peerSentNoKey?: undefined
}

/** The handshake failed; the connection is closed (or lingering, docs/probe-resistance.md). */
export interface MseFailure extends OutcomeBase {
  ok: false
  /** The typed error from mse-core (`error.code`). */
  error: MseError
  /** The stage the handshake was in when it failed. */
  failedStage: HandshakeStage
  /**
   * True when the peer sent no byte of an MSE key: it closed or reset the connection first, or answered
   * our key with a plaintext BitTorrent handshake (`plaintext-reply`). The evidence a caller needs to try
   * plaintext next: a peer that does not speak MSE hangs up on our key, or talks plaintext over it.
   */
  peerSentNoKey: boolean
  method?: undefined
  infoHash?: undefined
  peerHashedUnpaddedSecret?: undefined
}

/** How a connection's handshake ended. Reported once per stream, as an event and a promise. */
export type MseOutcome = MseSuccess | MseFailure
