// webtorrent 3 ships no types. Only what webtorrent-node touches is declared; the rest is `any`.
declare module 'webtorrent' {
  import { EventEmitter } from 'node:events'
  export default class WebTorrent extends EventEmitter {
    static VERSION: string
    constructor (opts?: Record<string, any>)
    torrents: any[]
    secure: number
    peerId: string
    torrentPort: number
    destroyed: boolean
    listening: boolean
    add (torrentId: any, opts?: any, ontorrent?: (torrent: any) => void): any
    seed (input: any, opts?: any, onseed?: (torrent: any) => void): any
    get (torrentId: any): Promise<any>
    remove (torrentId: any, opts?: any, cb?: (err?: Error) => void): Promise<void>
    destroy (cb?: (err?: Error | null) => void): void
    address (): { address: string, family: string, port: number } | null
    [key: string]: any
  }
}
declare module 'webtorrent/lib/peer.js' { const Peer: any; export default Peer }
declare module 'webtorrent/lib/conn-pool.js' { const ConnPool: any; export default ConnPool }
declare module 'webtorrent/lib/torrent.js' { const Torrent: any; export default Torrent }
