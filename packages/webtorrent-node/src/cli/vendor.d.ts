// parse-torrent 11 and create-torrent 6 ship no types. Only what the CLI uses is declared.
declare module 'parse-torrent' {
  export interface ParsedTorrentFile {
    path: string
    name: string
    length: number
    offset: number
  }
  export interface ParsedTorrent {
    infoHash: string
    name?: string
    announce?: string[]
    urlList?: string[]
    files?: ParsedTorrentFile[]
    length?: number
    pieceLength?: number
    lastPieceLength?: number
    pieces?: string[]
    private?: boolean
    created?: Date
    createdBy?: string
    comment?: string
    dn?: string
    xl?: number
    infoBuffer?: Uint8Array
    [key: string]: unknown
  }
  export default function parseTorrent (torrentId: string | Uint8Array | ParsedTorrent): Promise<ParsedTorrent>
  export function toMagnetURI (parsed: ParsedTorrent): string
  export function toTorrentFile (parsed: ParsedTorrent): Uint8Array
}

declare module 'create-torrent' {
  export interface CreateTorrentOptions {
    name?: string
    comment?: string
    createdBy?: string
    creationDate?: Date
    private?: boolean
    pieceLength?: number
    announceList?: string[][]
    urlList?: string[]
  }
  export default function createTorrent (
    input: string | string[] | Uint8Array,
    opts: CreateTorrentOptions,
    cb: (error: Error | null, torrent: Uint8Array) => void
  ): void
}

declare module 'memory-chunk-store' {
  const MemoryChunkStore: new (chunkLength: number, opts?: Record<string, unknown>) => unknown
  export default MemoryChunkStore
}
