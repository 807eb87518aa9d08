// Just enough typing for the untyped npm packages the interop suite drives.

declare module 'create-torrent' {
  type Callback = (err: Error | null, torrent?: Buffer) => void
  function createTorrent(input: string | string[] | Buffer, opts: Record<string, unknown>, cb: Callback): void
  export default createTorrent
}

declare module 'parse-torrent' {
  function parseTorrent(torrentId: Buffer | string | Uint8Array): Promise<Record<string, unknown> & { infoHash: string; name?: string }>
  export default parseTorrent
}

declare module 'webtorrent' {
  import type { EventEmitter } from 'node:events'

  export interface WebTorrentOptions {
    dht?: boolean | object
    tracker?: boolean | object
    lsd?: boolean
    natUpnp?: boolean | 'permanent'
    natPmp?: boolean
    utPex?: boolean
    webSeeds?: boolean
    utp?: boolean
    /** 0 = no PE, 1 = PE preferred (plaintext fallback), 2 = RC4 required. */
    secure?: 0 | 1 | 2
    torrentPort?: number
    maxConns?: number
    seedOutgoingConnections?: boolean
  }

  export interface TorrentFile {
    name: string
    path: string
    length: number
  }

  export interface Wire extends EventEmitter {
    remoteAddress: string
    remotePort: number
    type: string
    peerId?: string
    _cryptoHandshakeDone?: boolean
    _encryptionMethod?: number | null
  }

  export interface Torrent extends EventEmitter {
    infoHash: string
    name: string
    path: string
    length: number
    downloaded: number
    uploaded: number
    progress: number
    done: boolean
    ready: boolean
    numPeers: number
    files: TorrentFile[]
    wires: Wire[]
    addPeer(peer: string): boolean
    destroy(opts?: object, cb?: (err?: Error) => void): void
  }

  export interface AddOptions {
    path?: string
    announce?: string[]
    private?: boolean
    skipVerify?: boolean
    name?: string
    pieceLength?: number
    announceList?: string[][]
    urlList?: string[]
  }

  export default class WebTorrent extends EventEmitter {
    constructor(opts?: WebTorrentOptions)
    static readonly VERSION: string
    torrentPort: number
    listening: boolean
    torrents: Torrent[]
    secure: number
    address(): { address: string; family: string; port: number } | null
    add(torrentId: Buffer | string | Uint8Array, opts?: AddOptions, ontorrent?: (t: Torrent) => void): Torrent
    seed(input: string | string[] | Buffer, opts?: AddOptions, onseed?: (t: Torrent) => void): Torrent
    destroy(cb?: (err?: Error | string) => void): void
  }
}
