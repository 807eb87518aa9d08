import type { MseErrorCode, NegotiatedMethod } from 'mse-core'
import type { HandshakeBudgetStats } from 'mse-wire'

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
}

export function emptyStats (): MseStats {
  return {
    connected: { rc4: 0, 'plaintext-after-mse': 0, plaintext: 0 },
    errors: {},
    attempts: { mse: 0, plaintext: 0 },
    fallbacks: { toPlaintext: 0, toMse: 0 }
  }
}

/** How one peer connection was made, exposed as `peer.mse` and `wire.mse`. */
export interface PeerConnectionInfo {
  role: 'initiator' | 'responder'
  /** For outgoing connections: what we dialled. */
  attempt?: 'mse' | 'plaintext'
  /** Set once the handshake succeeded. */
  method?: NegotiatedMethod
  /** True when this connection is the retry in the other mode after the peer hung up. */
  fallback: boolean
  /** The mse-core error code when the handshake failed. */
  error?: MseErrorCode
  /** Bytes of the IA that carried the BitTorrent handshake inside the MSE handshake (0: none). */
  initialPayloadLength?: number
  /** MSE handshake time and bytes (not payload), once known. */
  handshakeMs?: number
  handshakeBytesSent?: number
  handshakeBytesReceived?: number
}
