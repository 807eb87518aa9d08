import type { EncryptionPolicy, MseErrorCode } from 'mse-core'
import type { UpstreamClient } from './patch/upstream-types.js'

/**
 * The client event a failed peer connection raises, so that a program (the CLI) can say which peer
 * refused what, instead of leaving its user with `peers 0` and silent redials.
 */
export const CONNECTION_FAILURE_EVENT = 'mseConnectionFailure'

/** One failed connection attempt, as `client.on('mseConnectionFailure', failure => ...)` receives it. */
export interface ConnectionFailure {
  /** The peer's address as webtorrent knows it (ip:port). */
  address: string
  /** initiator: we dialled; responder: the peer dialled us. */
  role: 'initiator' | 'responder'
  /** For outgoing connections: what we dialled. */
  attempt?: 'mse' | 'plaintext'
  /** The mse-core error code, or `no-answer` when the peer closed our plaintext dial without a byte. */
  code: MseErrorCode | 'no-answer'
  /** The peer hung up (or answered in plaintext) before sending a byte of its key or handshake. */
  closedBeforePeerByte: boolean
  /** This attempt was itself the one retry in the other mode. */
  fallback: boolean
  /** The mode of the retry that follows, if any. */
  retry?: 'mse' | 'plaintext'
  /** Our policy. */
  policy: EncryptionPolicy
  /** The torrent, when known (outgoing dials; incoming ones that got as far as the SKEY). */
  infoHash?: string
}

/** Emits the failure on the client (only when someone listens: no cost otherwise). */
export function reportConnectionFailure (client: UpstreamClient | undefined, failure: ConnectionFailure): void {
  if (typeof client?.emit !== 'function' || client.destroyed) return
  if (typeof client.listenerCount === 'function' && client.listenerCount(CONNECTION_FAILURE_EVENT) === 0) return
  client.emit(CONNECTION_FAILURE_EVENT, failure)
}
