/**
 * The part of webtorrent 3's API that webtorrent-node's users reach through its client class, declared
 * here because webtorrent ships no types. The published declarations refer only to these (never to the
 * untyped `webtorrent` module), so a strict consumer needs no declarations of its own and no skipLibCheck.
 * Members not declared here stay reachable, typed `any`, through the index signatures.
 */
import type { EventEmitter } from 'node:events'
import type { Readable } from 'node:stream'
import type { PeerConnectionInfo } from './stats.js'

/** A magnet URI, an info hash, a .torrent file's path, URL or contents. */
export type TorrentId = string | Uint8Array | Record<string, unknown>

/** A bittorrent-protocol Wire: one peer connection of a torrent. */
export interface Wire extends EventEmitter {
  /** How webtorrent-node made this connection: role, method (rc4, plaintext-after-mse, plaintext), fallback. */
  mse?: PeerConnectionInfo
  type: string
  remoteAddress?: string
  remotePort?: number
  peerId?: string
  amChoking: boolean
  amInterested: boolean
  peerChoking: boolean
  peerInterested: boolean
  downloaded: number
  uploaded: number
  downloadSpeed (): number
  uploadSpeed (): number
  destroy (): void
  [key: string]: any
}

export interface TorrentFile {
  name: string
  path: string
  length: number
  downloaded: number
  progress: number
  select (priority?: number): void
  deselect (): void
  createReadStream (range?: { start?: number, end?: number }): Readable
  arrayBuffer (): Promise<ArrayBuffer>
  [key: string]: any
}

export interface Torrent extends EventEmitter {
  infoHash: string
  magnetURI: string
  name: string
  path: string
  files: TorrentFile[]
  wires: Wire[]
  length: number
  progress: number
  downloaded: number
  uploaded: number
  received: number
  downloadSpeed: number
  uploadSpeed: number
  numPeers: number
  ready: boolean
  done: boolean
  paused: boolean
  destroyed: boolean
  /** Dials a peer ('ip:port'). */
  addPeer (peer: string): boolean
  select (start: number, end: number, priority?: number): void
  deselect (start: number, end: number): void
  pause (): void
  resume (): void
  destroy (opts?: Record<string, unknown>, cb?: (err?: Error | null) => void): void
  on (event: 'wire', listener: (wire: Wire, addr?: string) => void): this
  on (event: 'download' | 'upload', listener: (bytes: number) => void): this
  on (event: 'error' | 'warning', listener: (err: Error | string) => void): this
  on (event: 'infoHash' | 'metadata' | 'ready' | 'done' | 'noPeers' | 'close', listener: (...args: any[]) => void): this
  on (event: string | symbol, listener: (...args: any[]) => void): this
  once (event: 'wire', listener: (wire: Wire, addr?: string) => void): this
  once (event: 'download' | 'upload', listener: (bytes: number) => void): this
  once (event: 'error' | 'warning', listener: (err: Error | string) => void): this
  once (event: 'infoHash' | 'metadata' | 'ready' | 'done' | 'noPeers' | 'close', listener: (...args: any[]) => void): this
  once (event: string | symbol, listener: (...args: any[]) => void): this
  [key: string]: any
}

/** webtorrent's client, as an instance. */
export interface WebTorrentClient extends EventEmitter {
  torrents: Torrent[]
  peerId: string
  nodeId: string
  torrentPort: number
  dhtPort: number
  listening: boolean
  destroyed: boolean
  ready: boolean
  downloadSpeed: number
  uploadSpeed: number
  progress: number
  ratio: number
  add (torrentId: TorrentId, opts?: Record<string, any>, ontorrent?: (torrent: Torrent) => void): Torrent
  add (torrentId: TorrentId, ontorrent?: (torrent: Torrent) => void): Torrent
  seed (input: any, opts?: Record<string, any>, onseed?: (torrent: Torrent) => void): Torrent
  seed (input: any, onseed?: (torrent: Torrent) => void): Torrent
  get (torrentId: TorrentId | Torrent): Promise<Torrent | null>
  remove (torrentId: TorrentId | Torrent, opts?: Record<string, unknown>, cb?: (err?: Error | null) => void): Promise<void>
  address (): { address: string, family: string, port: number } | null
  throttleDownload (rate: number): boolean | undefined
  throttleUpload (rate: number): boolean | undefined
  destroy (cb?: (err?: Error | null) => void): void
  on (event: 'torrent' | 'add' | 'remove', listener: (torrent: Torrent) => void): this
  on (event: 'error' | 'warning', listener: (err: Error | string) => void): this
  on (event: 'listening', listener: () => void): this
  on (event: string | symbol, listener: (...args: any[]) => void): this
  once (event: 'torrent' | 'add' | 'remove', listener: (torrent: Torrent) => void): this
  once (event: 'error' | 'warning', listener: (err: Error | string) => void): this
  once (event: 'listening', listener: () => void): this
  once (event: string | symbol, listener: (...args: any[]) => void): this
  [key: string]: any
}

/** webtorrent's default export: the client class. */
export interface WebTorrentClass {
  new (opts?: Record<string, any>): WebTorrentClient
  readonly prototype: WebTorrentClient
  VERSION: string
  WEBRTC_SUPPORT: boolean
  UTP_SUPPORT: boolean
}
