import compact2string from 'compact2string'
import type { MseClientState } from '../client-state.js'
import { debug } from '../log.js'
import type { MseEvidence } from '../dial/peer-memory.js'
import { sideTable } from '../side-tables.js'
import type { UpstreamTorrent, UpstreamTrackerClient, UpstreamWire } from './upstream-types.js'

/** Tracker clients whose announce responses are already read. */
const watchedTrackers = sideTable<UpstreamTrackerClient, true>('evidence-tracker')

/**
 * Evidence that a peer speaks MSE, gathered outside its handshake, so that under `preferred` a reset of
 * our MSE attempt (an on-path downgrade, or a flaky link) never earns it a plaintext redial:
 *
 * - ut_pex `added.f` flag 0x01 ("prefers encryption"). ut_pex decodes it (`prefersEncryption`) and emits
 *   it with each peer; webtorrent's own 'peer' listener drops it.
 * - BEP 10 extended handshake `e: 1` (prefers encryption), stored under the peer's address: the one we
 *   dialled, or for an incoming connection its IP with the listen port it sent as `p`.
 * - A tracker's compact announce response `crypto_flags`: one byte per peer of `peers`, bit 0x01 set when
 *   the peer announced `supportcrypto` / `requirecrypto` (libtorrent and Transmission read it so).
 *
 * Hints are kept in the client's bounded peer memory, next to what earlier connections taught us.
 */
export function collectEvidence (torrent: UpstreamTorrent, state: MseClientState): void {
  if (state.policy === 'disabled') return
  torrent.on('wire', (wire: EvidenceWire, addr: string | undefined) => watchWire(wire, addr, state))
  watchTrackerOf(torrent, state)
}

/** What evidence reads of a Wire: its ut_pex extension, the peer's extended handshake, where it connected from. */
interface EvidenceWire extends UpstreamWire {
  ut_pex?: { prependListener?: (event: 'peer', listener: (peer: unknown, flags: { prefersEncryption?: boolean } | undefined) => void) => void }
  peerExtendedHandshake?: Record<string, unknown>
  remoteAddress?: string
}

interface ExtendedHandshake { e?: unknown, p?: unknown }

function watchWire (wire: EvidenceWire, addr: string | undefined, state: MseClientState): void {
  // Before webtorrent's own listener, which queues the peer (and may dial it) right away.
  wire.ut_pex?.prependListener?.('peer', (peer: unknown, flags: { prefersEncryption?: boolean } | undefined) => {
    if (typeof peer === 'string' && flags?.prefersEncryption === true) record(state, peer, 'pex')
  })
  const onExtendedHandshake = (handshake: ExtendedHandshake | undefined): void => {
    if (handshake?.e !== 1) return
    const address = listenAddressOf(wire, addr, handshake.p)
    if (address) record(state, address, 'extended-handshake')
  }
  if (wire.peerExtendedHandshake && Object.keys(wire.peerExtendedHandshake).length > 0) onExtendedHandshake(wire.peerExtendedHandshake)
  wire.on('extended', (ext: unknown, message: unknown) => { if (ext === 'handshake') onExtendedHandshake(message as ExtendedHandshake) })
}

/** Where the peer of `wire` accepts connections: the address we dialled, or its IP and BEP 10 `p`. */
function listenAddressOf (wire: EvidenceWire, addr: string | undefined, port: unknown): string | undefined {
  if (typeof wire.type === 'string' && wire.type.endsWith('Outgoing')) return addr
  const ip = wire.remoteAddress
  if (typeof ip !== 'string' || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

/**
 * The tracker client is created when the torrent starts discovery (webtorrent's `_startDiscovery`), and
 * emits each announce response as 'update' before its peers.
 */
function watchTrackerOf (torrent: UpstreamTorrent, state: MseClientState): void {
  const attach = (): void => {
    const tracker = torrent.discovery?.tracker
    if (!tracker || watchedTrackers.has(tracker)) return
    watchedTrackers.set(tracker, true)
    tracker.prependListener('update', (response: { peers?: unknown, crypto_flags?: unknown } | undefined) => {
      for (const address of cryptoPeers(response)) record(state, address, 'tracker')
    })
  }
  if (torrent.discovery) {
    attach()
    return
  }
  const start = torrent._startDiscovery
  if (typeof start !== 'function') return
  torrent._startDiscovery = function startDiscoveryWithEvidence (this: UpstreamTorrent) {
    start.call(this)
    attach()
  }
}

/** The IPv4 peers of a compact announce response whose `crypto_flags` byte has bit 0x01 set. */
export function cryptoPeers (response: { peers?: unknown, crypto_flags?: unknown } | undefined): string[] {
  const peers = response?.peers
  const flags = response?.crypto_flags
  if (!(peers instanceof Uint8Array) || !(flags instanceof Uint8Array)) return []
  const compact = Buffer.from(peers.buffer, peers.byteOffset, peers.length - (peers.length % 6))
  return compact2string.multi(compact).filter((_address, i) => i < flags.length && (flags[i]! & 0x01) !== 0)
}

function record (state: MseClientState, address: string, source: MseEvidence): void {
  debug('%s speaks MSE (%s)', address, source)
  state.memory.recordEvidence(address, source)
}
