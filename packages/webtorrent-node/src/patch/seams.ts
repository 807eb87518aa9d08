import UpstreamWebTorrent from 'webtorrent'
import Peer from 'webtorrent/lib/peer.js'
import ConnPool from 'webtorrent/lib/conn-pool.js'
import Torrent from 'webtorrent/lib/torrent.js'
import { assertCompatibleBittorrentProtocol } from 'mse-wire'
import type { WebTorrentClass } from '../webtorrent-api.js'

/**
 * The places in webtorrent 3 where the MSE patch plugs in. Each is checked at start-up: a future
 * webtorrent that moves one must fail loudly here, not silently run without encryption.
 *
 * - `Peer.prototype.onConnect`: runs once a peer's connection is up and builds the conn <-> Wire
 *   pipeline from `this.conn`. We put the MSE stream in `this.conn` first and switch the Wire's own PE off.
 * - `ConnPool.prototype._onConnection(conn, type)`: every incoming connection. We run the MSE handshake on
 *   the raw socket first and call it with the decrypted stream once that succeeded (patch/incoming.ts).
 * - `Torrent.prototype._addPeer(addr, type, source)`: how an outgoing peer is (re)queued, used for the one
 *   retry in the other mode.
 * - `WebTorrent.prototype.add`: every torrent (and `seed`, which calls it); keeps the SKEY map current.
 * - `Torrent.prototype._startDiscovery`: creates the tracker client whose announce responses carry
 *   `crypto_flags` (wrapped per torrent by patch/evidence.ts).
 */
export class IncompatibleWebTorrentError extends Error {
  override readonly name = 'IncompatibleWebTorrentError'
}

export interface UpstreamModules {
  WebTorrent: WebTorrentClass
  Peer: any
  ConnPool: any
  Torrent: any
}

export const upstream: UpstreamModules = { WebTorrent: UpstreamWebTorrent as unknown as WebTorrentClass, Peer, ConnPool, Torrent }

export function assertCompatibleWebTorrent (modules: UpstreamModules = upstream): void {
  const problems: string[] = []
  const need = (ok: boolean, what: string): void => { if (!ok) problems.push(what) }
  need(typeof modules.WebTorrent === 'function', 'webtorrent default export is not a class')
  need(typeof modules.WebTorrent?.prototype?.add === 'function', 'WebTorrent.prototype.add')
  need(typeof modules.WebTorrent?.prototype?.seed === 'function', 'WebTorrent.prototype.seed')
  need(typeof modules.Peer?.prototype?.onConnect === 'function', 'Peer.prototype.onConnect (lib/peer.js)')
  need(typeof modules.Peer?.prototype?.destroy === 'function', 'Peer.prototype.destroy (lib/peer.js)')
  need(typeof modules.Peer?.createTCPIncomingPeer === 'function', 'Peer.createTCPIncomingPeer (lib/peer.js)')
  need(typeof modules.Peer?.createTCPOutgoingPeer === 'function', 'Peer.createTCPOutgoingPeer (lib/peer.js)')
  need(typeof modules.ConnPool?.prototype?._onConnection === 'function', 'ConnPool.prototype._onConnection (lib/conn-pool.js)')
  need(typeof modules.Torrent?.prototype?._addPeer === 'function', 'Torrent.prototype._addPeer (lib/torrent.js)')
  need(typeof modules.Torrent?.prototype?._startDiscovery === 'function', 'Torrent.prototype._startDiscovery (lib/torrent.js)')
  // onConnect must still build its pipeline from `this.conn` and a Wire from `this.secure`.
  // Once the patch is installed the prototype holds our wrapper: check the onConnect it wrapped.
  const current = modules.Peer?.prototype?.onConnect
  const onConnect = String(current?.[Symbol.for('webtorrent-node.original')] ?? current ?? '')
  need(/this\.conn\b/.test(onConnect) && /new Wire\(\s*this\.type\s*,\s*this\.secure\s*\)/.test(onConnect),
    'Peer.prototype.onConnect no longer creates `new Wire(this.type, this.secure)` over `this.conn`')
  if (problems.length > 0) {
    throw new IncompatibleWebTorrentError(
      `webtorrent-node cannot patch this webtorrent (${modules.WebTorrent?.VERSION ?? 'unknown version'}): ` +
      `missing or changed: ${problems.join('; ')}. It was built for webtorrent 3.0.x; pin webtorrent@3 or update webtorrent-node.`)
  }
  assertCompatibleBittorrentProtocol()
}
