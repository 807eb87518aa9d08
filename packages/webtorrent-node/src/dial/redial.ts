import { isUnpaddedSecretRejection, type MseOutcome } from 'mse-wire'
import type { MseClientState } from '../client-state.js'
import { debug } from '../log.js'
import { sideTable } from '../side-tables.js'
import type { Transport, UpstreamClient, UpstreamPeer, UpstreamTorrent } from '../patch/upstream-types.js'
import type { ConnectMode } from './dial-plan.js'

/** An outgoing dial, and what a redial of it needs. */
export interface Dial {
  /** webtorrent's Peer of the connection (destroyed when the redial is made). */
  peer: UpstreamPeer
  /** Its torrent (webtorrent calls it the swarm). */
  swarm: UpstreamTorrent | null
  address: string
  /** The transport the dial went over: a redial uses the same one. */
  transport: Transport
  source: string | null
  retries: number
  state: MseClientState
  client: UpstreamClient | undefined
  /** This dial is itself the retry in the other mode. */
  fallback: boolean
}

/** What a redialled Peer is told about itself, read when it connects. */
export interface RedialTag {
  mode: ConnectMode
  /** It is the one retry in the other mode. */
  fallback: boolean
  /** It is the MSE retry with fresh keys after an unpadded-secret rejection. */
  secretRetry: boolean
}

const redialTags = sideTable<UpstreamPeer, RedialTag>('redial-tag')

/** The tag of a Peer that is a redial (undefined for webtorrent's own dials). */
export function redialTagOf (peer: UpstreamPeer): RedialTag | undefined {
  return redialTags.get(peer)
}

export function transportOf (peer: UpstreamPeer): Transport {
  return peer.type.startsWith('utp') ? 'utp' : 'tcp'
}

/**
 * The one redial: drops the failed Peer and queues the same address again, over the same transport, with
 * webtorrent's retry count carried over, tagged with the mode to dial. webtorrent itself refuses the
 * address if it is already queued or connected (`_addPeer` returns null).
 */
function redial (dial: Dial, tag: RedialTag, error: Error | undefined): void {
  const { peer, swarm, address, transport, source, retries } = dial
  peer.destroy(error)
  if (!swarm || swarm.destroyed) return
  const retry = swarm._addPeer(address, transport, source)
  if (!retry) return
  retry.retries = retries
  redialTags.set(retry, tag)
}

/** After a peer hung up on one mode without a byte: the one retry in the other mode. */
export function retryInOtherMode (dial: Dial, mode: ConnectMode, outcome?: MseOutcome): void {
  const { swarm, address, state } = dial
  if (!swarm || swarm.destroyed) return
  debug('%s hung up on %s: retrying once in %s', address, mode === 'plaintext' ? 'MSE' : 'plaintext', mode)
  if (mode === 'plaintext') state.stats.fallbacks.toPlaintext += 1
  else state.stats.fallbacks.toMse += 1
  redial(dial, { mode, fallback: true, secretRetry: false }, outcome?.error)
}

/**
 * Peers that hash an unpadded shared secret (libtorrent-rasterbar <= 2.0.12, rakshasa's libtorrent) drop 1
 * MSE handshake in 256: those where our S began with a zero byte (`isUnpaddedSecretRejection`). Such a
 * failure says nothing about the mode the peer speaks, so it earns no plaintext retry; instead the same
 * address is dialled again at once in MSE, where fresh keys make another leading zero a 1-in-256 chance.
 * One retry per dial: a second rejection in a row is taken as a real refusal.
 *
 * Returns true when the failure was handled here (the caller must then not retry in another mode).
 */
export function retryUnpaddedSecret (dial: Dial, outcome: MseOutcome): boolean {
  if (!isUnpaddedSecretRejection(outcome)) return false
  const { peer, swarm, address, state, fallback } = dial
  state.stats.unpaddedSecret.suspected += 1
  if (!state.unpaddedSecretRetry || redialTagOf(peer)?.secretRetry === true) return false
  if (!swarm || swarm.destroyed) return true
  debug('%s closed after our flight 3 and our S began with a zero byte: redialling once with fresh keys', address)
  state.stats.unpaddedSecret.retried += 1
  redial(dial, { mode: 'mse', fallback, secretRetry: true }, outcome.error)
  return true
}
