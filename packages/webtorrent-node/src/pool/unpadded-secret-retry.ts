import { isUnpaddedSecretRejection, type MseOutcome } from 'mse-wire'
import { debug, type MseClientState } from '../client-state.js'

/** The failed outgoing MSE dial, as the patch knows it. */
export interface FailedMseDial {
  /** webtorrent's Peer of the failed connection (destroyed here when the retry is made). */
  peer: any
  /** Its torrent (webtorrent calls it the swarm). */
  swarm: any
  address: string
  source: unknown
  retries: number
  state: MseClientState
  /** The failed dial was itself the retry in the other mode. */
  fallback: boolean
}

/**
 * Peers that hash an unpadded shared secret (libtorrent-rasterbar <= 2.0.12, rakshasa's libtorrent) drop 1
 * MSE handshake in 256: those where our S began with a zero byte (`isUnpaddedSecretRejection`). Such a
 * failure says nothing about the mode the peer speaks, so it earns no plaintext retry; instead the same
 * address is dialled again at once in MSE, over the same transport, where fresh keys make another leading
 * zero a 1-in-256 chance. One retry per dial: a second rejection in a row is taken as a real refusal.
 *
 * Returns true when the failure was handled here (the caller must then not retry in another mode).
 */
export function retryUnpaddedSecret (dial: FailedMseDial, outcome: MseOutcome): boolean {
  if (!isUnpaddedSecretRejection(outcome)) return false
  const { peer, swarm, address, source, retries, state, fallback } = dial
  state.stats.unpaddedSecret.suspected += 1
  if (!state.unpaddedSecretRetry || peer.__mseSecretRetry === true) return false
  if (!swarm || swarm.destroyed) return true
  debug('%s closed after our flight 3 and our S began with a zero byte: redialling once with fresh keys', address)
  state.stats.unpaddedSecret.retried += 1
  const type = peer.type === 'utpOutgoing' ? 'utp' : 'tcp'
  peer.destroy(outcome.error)
  if (swarm.destroyed || swarm._peers?.has(address)) return true
  const retry = swarm._addPeer(address, type, source)
  if (retry) {
    retry.retries = retries
    retry.__mseFallback = fallback
    retry.__mseForcedMode = 'mse'
    retry.__mseSecretRetry = true
  }
  return true
}
