/**
 * "Our side" of the client interop suite: the product, webtorrent-node (webtorrent 3 + Message
 * Stream Encryption), driven only through its public API:
 *
 *   new WebTorrent({ encryption, dht:false, tracker:false, lsd:false, natUpnp:false, natPmp:false,
 *                    utPex:false, webSeeds:false, utp:false })   (utp:true for the uTP settings)
 *   client.mseStats, wire.mse, torrent.addPeer()
 *
 * Like upstream webtorrent, its TCP server listens on all interfaces (there is no bind-address
 * option); with every discovery mechanism off it only ever talks to the loopback peers we hand it.
 */
import WebTorrent, { LOOPBACK_ONLY, type EncryptionPolicy, type MseStats, type PeerConnectionInfo } from 'webtorrent-node'
import type { Torrent, Wire } from 'webtorrent'
import { listeningPort, destroyWebTorrent } from './webtorrent-side.js'

export type { EncryptionPolicy, MseStats, PeerConnectionInfo }

/** Every discovery and NAT mechanism off, TCP only: webtorrent-node's own preset. */
export const QUIET = LOOPBACK_ONLY

export type OurClient = WebTorrent

/** Our client with the given policy; `utp` turns webtorrent's uTP on (it then dials uTP first). */
export function createOurClient (encryption: EncryptionPolicy, transport: 'tcp' | 'utp' = 'tcp'): OurClient {
  return new WebTorrent({ ...QUIET, encryption, ...(transport === 'utp' ? { utp: true } : {}) })
}

export async function ourListeningPort (client: OurClient, timeoutMs = 10000): Promise<number> {
  // The product's class extends upstream's: the upstream helpers apply as they are.
  return listeningPort(client as unknown as import('webtorrent').default, timeoutMs)
}

export async function destroyOurClient (client: OurClient, timeoutMs = 10000): Promise<void> {
  return destroyWebTorrent(client as unknown as import('webtorrent').default, timeoutMs)
}

/** What one of our wires reported: `wire.mse` plus the public Wire counters, read when asked. */
export interface WireRecord {
  remoteAddress: string
  remotePort: number
  /** webtorrent's connection type: tcpOutgoing, tcpIncoming, utpOutgoing, utpIncoming. */
  type: string
  /** `wire.mse` (role, attempt, method, fallback, error); undefined would mean the patch did not run. */
  mse: PeerConnectionInfo | undefined
  downloaded: number
  uploaded: number
  /** Milliseconds since the recorder started, when the wire appeared. */
  at: number
}

type MseWire = Wire & { mse?: PeerConnectionInfo; downloaded?: number; uploaded?: number }

/**
 * Records every wire a torrent ever had (a torrent's `wires` forgets closed ones: a seeder that
 * has everything drops a peer that became a seed), with its `wire.mse` object, whose `method`
 * is filled in when the handshake resolves.
 */
export class WireRecorder {
  private readonly wires: MseWire[] = []
  private readonly times: number[] = []
  private readonly t0 = Date.now()

  constructor (torrent: Torrent) {
    for (const w of torrent.wires) this.add(w)
    torrent.on('wire', (w: Wire) => this.add(w))
  }

  private add (w: MseWire): void {
    if (this.wires.includes(w)) return
    this.wires.push(w)
    this.times.push(Date.now() - this.t0)
  }

  records (): WireRecord[] {
    return this.wires.map((w, i) => ({
      remoteAddress: String(w.remoteAddress),
      remotePort: Number(w.remotePort),
      type: String(w.type),
      mse: w.mse ? { ...w.mse } : undefined,
      downloaded: Number(w.downloaded ?? 0),
      uploaded: Number(w.uploaded ?? 0),
      at: this.times[i]!,
    }))
  }
}
