import type { HandshakeStage, MseError, NegotiatedMethod, Role } from 'mse-core'

/** How a connection's handshake ended. Reported once per stream, as an event and a promise. */
export interface MseOutcome {
  ok: boolean
  role: Role
  /**
   * Set when ok: the payload cipher. `aes-128-ctr` only between peers of this project (their PadC/PadD
   * extension, docs/mse-extension.md); `rc4` with every other MSE client.
   */
  method?: NegotiatedMethod
  /** Hex info hash (SKEY) used or matched; absent for plaintext connections. */
  infoHash?: string
  /** MSE handshake bytes (not payload) each way. */
  handshakeBytesSent: number
  handshakeBytesReceived: number
  /** Length of the IA that carried the BitTorrent handshake (0 when none). */
  initialPayloadLength: number
  durationMs: number
  /** Set when not ok: the typed error from mse-core (`error.code`). */
  error?: MseError
  /** The stage the handshake was in when it failed. */
  failedStage?: HandshakeStage
  /**
   * True when the peer never sent a byte of its key: it closed or reset the connection first, or answered
   * our key with a plaintext BitTorrent handshake (`plaintext-reply`). The evidence a caller needs to try
   * plaintext next: a peer that does not speak MSE hangs up on our key, or talks plaintext over it.
   */
  closedBeforePeerKey: boolean
  /**
   * Whether the DH shared secret S began with a zero byte; absent when no S was computed. Peers that hash
   * an unpadded S fail on exactly these handshakes (see `isUnpaddedSecretRejection`).
   */
  secretHasLeadingZero?: boolean
  /**
   * Set when ok: the initiator hashed an unpadded S for HASH('req3', S) (libtorrent <= 2.0.12) and our
   * responder accepted it (mse-core's `HandshakeResult.peerHashedUnpaddedSecret`).
   */
  peerHashedUnpaddedSecret?: boolean
  /**
   * The peer proved with a valid tag of this project's PadC/PadD extension that it is one of ours, so it
   * speaks MSE. Also true on failure with `negotiation-tampered`: someone on the path changed the
   * negotiation; the peer itself speaks MSE and must never be redialled in plaintext.
   */
  peerExtension: boolean
}
