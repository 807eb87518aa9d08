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
  private readonly pending = new Set<Promise<void>>()
  private readonly onWire: (wire: any, address?: string) => void

  constructor (readonly torrent: any, readonly out: Output, readonly options: WireWatchOptions = {}) {
    this.onWire = (wire, address) => {
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
