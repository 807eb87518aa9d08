import { debug, type Output } from './output.js'
import { countWires, describeMethod, describeWire, wireFields, type PeerCounts, type WireReport } from './peers.js'

export interface WireWatchOptions {
  /** Added to each JSON `wire` event (demo: which client saw it). */
  side?: string
  /** Prefix for the human line. */
  label?: string
  /** Print a human line per connection (default true). */
  announce?: boolean
}

/**
 * Follows a torrent's peer connections: reports each new wire (how it was encrypted) as a JSON `wire`
 * event and a human line, and remembers them all for the final summary.
 */
export class WireWatch {
  readonly reports: WireReport[] = []
  /**
   * Piece data only, from bittorrent-protocol's per-wire `download`/`upload` events: webtorrent's own
   * torrent counters also count protocol messages and our BitTorrent handshake (68 bytes a dial), which
   * under `required` looked like plaintext leaving.
   */
  payloadReceived = 0
  payloadSent = 0
  private readonly pending = new Set<Promise<void>>()
  private readonly onWire: (wire: any, address?: string) => void

  constructor (readonly torrent: any, readonly out: Output, readonly options: WireWatchOptions = {}) {
    this.onWire = (wire, address) => {
      wire.on('download', (bytes: number) => { this.payloadReceived += bytes })
      wire.on('upload', (bytes: number) => { this.payloadSent += bytes })
      const task = describeWire(torrent, wire, address).then(report => {
        this.reports.push(report)
        this.out.event('wire', { side: this.options.side, ...wireFields(report) })
        if (this.options.announce !== false) {
          const who = report.role === 'responder' ? `peer ${report.address} connected to us` : `connected to ${report.address}`
          this.out.info(`${this.options.label ?? ''}${who}${report.transport ? ` over ${report.transport}` : ''}: ${describeMethod(report)}`)
        }
      }, (error: unknown) => debug('describing wire failed: %o', error))
      this.pending.add(task)
      void task.finally(() => this.pending.delete(task))
    }
    torrent.on('wire', this.onWire)
  }

  /** Piece data per second over the wires connected right now (bittorrent-protocol's own meters). */
  payloadSpeeds (): { down: number, up: number } {
    let down = 0
    let up = 0
    for (const wire of this.torrent.wires ?? []) {
      down += typeof wire.downloadSpeed === 'function' ? Number(wire.downloadSpeed()) || 0 : 0
      up += typeof wire.uploadSpeed === 'function' ? Number(wire.uploadSpeed()) || 0 : 0
    }
    return { down, up }
  }

  /** Counts over the wires connected right now. */
  current (): PeerCounts {
    return countWires(this.torrent.wires ?? [])
  }

  /** Waits for the reports still being described (bounded by describeWire's own wait). */
  async settle (): Promise<void> {
    await Promise.all([...this.pending])
  }

  stop (): void {
    this.torrent.removeListener('wire', this.onWire)
  }
}
