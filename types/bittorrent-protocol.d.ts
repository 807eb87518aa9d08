// bittorrent-protocol ships no types. This declares only the part mse-wire and webtorrent-node touch.
declare module 'bittorrent-protocol' {
  import { Duplex } from 'streamx'
  export default class Wire extends Duplex {
    static nativeRC4: boolean
    constructor (type?: string, peEnabled?: number)
    type: string
    peerId: string | null
    handshake (infoHash: string | Uint8Array, peerId: string | Uint8Array, extensions?: Record<string, boolean>): void
    interested (): void
    have (index: number): void
    setInfoHash (infoHash: string): void
    [key: string]: any
  }
}
