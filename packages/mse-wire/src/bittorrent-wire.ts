import type { Duplex } from 'streamx'

/**
 * The part of bittorrent-protocol's Wire that mse-wire and its users touch, declared here because
 * bittorrent-protocol ships no types: the published declarations never refer to the untyped module.
 * Members not declared stay reachable, typed `any`, through the index signature.
 */
export interface BittorrentWire extends Duplex {
  type: string
  peerId: string | null
  handshake (infoHash: string | Uint8Array, peerId: string | Uint8Array, extensions?: Record<string, boolean>): void
  interested (): void
  have (index: number): void
  setInfoHash (infoHash: string): void
  [key: string]: any
}

/** The Wire class: `peEnabled` 0 switches its own protocol encryption off. */
export type BittorrentWireClass = new (type?: string, peEnabled?: number) => BittorrentWire
