import type { MseErrorCode, NegotiatedMethod } from 'mse-core'
import type { HandshakeBudgetStats, MseOutcome } from 'mse-wire'
import type { MseClientState } from './client-state.js'

/** Counts by outcome: what the client exposes as `client.mseStats`. */
export interface MseStats {
  /** Connections established, by method. */
  connected: Record<NegotiatedMethod, number>
  /** Failed MSE handshakes, by mse-core error code. */
  errors: Partial<Record<MseErrorCode, number>>
  /** Outgoing attempts, by the mode dialled. */
  attempts: { mse: number, plaintext: number }
  /** Retries in the other mode after a peer hung up without a byte. */
  fallbacks: { toPlaintext: number, toMse: number }
  /** Incoming handshake budget: admitted, refused by reason, in flight (set by `client.mseStats`). */
  budget?: HandshakeBudgetStats
  /**
   * Outgoing MSE handshakes that failed the way a responder hashing an unpadded S fails (libtorrent <= 2.0.12,
   * rakshasa's libtorrent: our S began with a zero byte and the peer closed right after our flight 3), and how
   * many of them were retried at once with fresh keys (always MSE, never plaintext).
   */
  unpaddedSecret: { suspected: number, retried: number }
}

export function emptyStats (): MseStats {
  return {
    connected: { rc4: 0, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 },
    errors: {},
    attempts: { mse: 0, plaintext: 0 },
    fallbacks: { toPlaintext: 0, toMse: 0 },
    unpaddedSecret: { suspected: 0, retried: 0 }
  }
}

/** How one peer connection was made, exposed as `peer.mse` and `wire.mse`. */
export interface PeerConnectionInfo {
  role: 'initiator' | 'responder'
  /** For outgoing connections: what we dialled. */
  attempt?: 'mse' | 'plaintext'
  /**
   * Set once the handshake succeeded: the payload cipher (`rc4`, or `aes-128-ctr` between peers of this
   * project), `plaintext-after-mse` or `plaintext`.
   */
  method?: NegotiatedMethod
  /**
   * The peer runs this project's PadC/PadD extension (a valid tag; docs/mse-extension.md). Also set when
   * the extension caught a changed negotiation (`error` is then `negotiation-tampered`).
   */
  peerExtension?: boolean
  /** True when this connection is the retry in the other mode after the peer hung up. */
  fallback: boolean
  /** True when this connection is the MSE retry with fresh keys after an unpadded-secret rejection. */
  secretRetry?: boolean
  /** The mse-core error code when the handshake failed. */
  error?: MseErrorCode
  /** Bytes of the IA that carried the BitTorrent handshake inside the MSE handshake (0: none). */
  initialPayloadLength?: number
  /** MSE handshake time and bytes (not payload), once known. */
  handshakeMs?: number
  handshakeBytesSent?: number
  handshakeBytesReceived?: number
}

/** Puts a handshake outcome into the connection's `peer.mse` and the client's counters. */
export function recordOutcome (state: MseClientState, info: PeerConnectionInfo, outcome: MseOutcome): void {
  info.handshakeMs = outcome.durationMs
  info.handshakeBytesSent = outcome.handshakeBytesSent
  info.handshakeBytesReceived = outcome.handshakeBytesReceived
  info.initialPayloadLength = outcome.initialPayloadLength
  if (outcome.peerExtension) info.peerExtension = true
  // An outgoing plaintext dial has no handshake to succeed: watchPlaintextAttempt counts it when the peer answers.
  if (outcome.ok && info.attempt === 'plaintext') return
  if (outcome.ok && outcome.method) {
    info.method = outcome.method
    state.stats.connected[outcome.method] += 1
  } else if (outcome.error) {
    info.error = outcome.error.code
    state.stats.errors[outcome.error.code] = (state.stats.errors[outcome.error.code] ?? 0) + 1
  }
}
