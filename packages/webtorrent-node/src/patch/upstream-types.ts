/**
 * webtorrent 3's internal objects, narrowed to the members the MSE patch touches (patch/surface.ts lists
 * each one and why). webtorrent ships no types: these are this project's view of it, checked at start-up
 * by `assertCompatibleWebTorrent`, never published to consumers (webtorrent-api.ts is the public view).
 */
import type { EventEmitter } from 'node:events'
import type { RawSocket } from 'mse-wire'
import type { PeerConnectionInfo } from '../stats.js'
import type { WebTorrentClass } from '../webtorrent-api.js'

/** A raw connection webtorrent hands a Peer (a net.Socket, a utp-native socket), or our MseStream in its place. */
export interface UpstreamConn extends RawSocket {
  once (event: 'drain' | 'close', listener: () => void): unknown
}

/** The transports webtorrent dials: `Torrent.prototype._addPeer(addr, type, source)`'s `type`. */
export type Transport = 'tcp' | 'utp'

/** bittorrent-protocol's Wire, as webtorrent's Peer builds it in `onConnect`. */
export interface UpstreamWire extends EventEmitter {
  type: string
  /** The BEP 10 extended handshake we send; `e: 1` says we prefer encryption. */
  extendedHandshake: Record<string, unknown>
  /** How webtorrent-node made the connection (the public `wire.mse`). */
  mse?: PeerConnectionInfo
}

/** lib/peer.js: one peer of a torrent, over one connection. */
export interface UpstreamPeer {
  /** 'tcpIncoming', 'tcpOutgoing', 'utpIncoming', 'utpOutgoing', 'webrtc' or 'webSeed'. */
  type: string
  /** The connection onConnect builds the conn <-> Wire pipeline from; the patch puts its MseStream here. */
  conn: UpstreamConn | null
  /** 'ip:port' for outgoing peers (null for incoming ones). */
  addr: string | null
  /** The torrent, for outgoing peers (incoming peers get one after their handshake). */
  swarm: UpstreamTorrent | null
  wire: UpstreamWire | null
  /** Where webtorrent learned of the peer ('manual', 'tracker', 'dht', 'lsd', 'ut_pex'). */
  source: string | null
  /** webtorrent's reconnect back-off counter. */
  retries: number
  /** The PE level handed to `new Wire(type, secure)`: 0 switches bittorrent-protocol's own PE off. */
  secure: number
  destroyed: boolean
  /** How webtorrent-node made the connection (the public `peer.mse`). */
  mse?: PeerConnectionInfo
  onConnect (): void
  destroy (err?: Error): void
}

export interface UpstreamPeerClass {
  readonly prototype: UpstreamPeer
  createTCPIncomingPeer (...args: unknown[]): UpstreamPeer
  createTCPOutgoingPeer (...args: unknown[]): UpstreamPeer
}

/** bittorrent-tracker's client, as `torrent.discovery.tracker`. */
export interface UpstreamTrackerClient extends EventEmitter {}

/** lib/torrent.js (webtorrent's peers call it their swarm). */
export interface UpstreamTorrent extends EventEmitter {
  infoHash?: string
  client: UpstreamClient
  destroyed: boolean
  discovery: { tracker?: UpstreamTrackerClient | null } | null
  /** Merged into every announce by `_startDiscovery`'s `getAnnounceOpts` (own property, may be undefined). */
  _getAnnounceOpts?: () => Record<string, unknown>
  /** Queues an outgoing peer; null when it is a duplicate, the torrent is paused or destroyed. */
  _addPeer (addr: string, type: Transport, source: string | null): UpstreamPeer | null
  _startDiscovery (): void
}

export interface UpstreamTorrentClass {
  readonly prototype: UpstreamTorrent
}

/** The client, as the patch sees it: webtorrent's class (or webtorrent-node's subclass). */
export interface UpstreamClient extends EventEmitter {
  torrents?: UpstreamTorrent[]
  destroyed: boolean
  /** The constructor's PE level, mapped to a policy in register mode. */
  secure?: number
  /** The listening sockets (absent where webtorrent has no ConnPool, and after destroy). */
  _connPool?: UpstreamConnPool | null
  add (...args: unknown[]): UpstreamTorrent
}

/** lib/conn-pool.js: the listening sockets of one client. */
export interface UpstreamConnPool {
  /** The client that owns the pool (null once the pool is destroyed). */
  _client: UpstreamClient | null
  /** Accepted connections not yet handed to a torrent: a destroyed client closes them (null once destroyed). */
  _pendingConns: Set<UpstreamConn> | null
  /** The TCP listener (null once the pool is destroyed). */
  tcpServer?: import('node:net').Server | null
  _onConnection (conn: UpstreamConn, type: Transport): void
}

export interface UpstreamConnPoolClass {
  readonly prototype: UpstreamConnPool
}

/** One copy of webtorrent: the modules whose members the patch touches. */
export interface UpstreamModules {
  WebTorrent: WebTorrentClass
  Peer: UpstreamPeerClass
  ConnPool: UpstreamConnPoolClass
  Torrent: UpstreamTorrentClass
}
