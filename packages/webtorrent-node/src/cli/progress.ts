import cliProgress from 'cli-progress'
import type { Output } from './output.js'
import { formatBytes, formatDuration, formatPercent, formatSpeed } from './format.js'
import { formatCounts, type PeerCounts } from './peers.js'
import type { WireWatch } from './wire-watch.js'

export interface ProgressSample {
  length: number
  downloaded: number
  uploaded: number
  progress: number
  downloadSpeed: number
  uploadSpeed: number
  peers: PeerCounts
}

/** A sample of a webtorrent torrent: verified bytes from the torrent, payload traffic from the wire watch. */
export function sampleTorrent (torrent: any, watch: WireWatch): ProgressSample {
  const speeds = watch.payloadSpeeds()
  return {
    length: Number(torrent.length) || 0,
    downloaded: Number(torrent.downloaded) || 0,
    uploaded: watch.payloadSent,
    progress: Number(torrent.progress) || 0,
    downloadSpeed: speeds.down,
    uploadSpeed: speeds.up,
    peers: watch.current()
  }
}

export type ProgressKind = 'download' | 'seed'

export interface ProgressDisplayOptions {
  /** JSON `progress` events this often (default 1000 ms for download, 5000 ms for seed). */
  jsonIntervalMs?: number
  /** Plain progress lines (no terminal) this often (default 5000 ms for download, 15000 ms for seed). */
  plainIntervalMs?: number
  /** Added to JSON progress events (demo: which client). */
  side?: string
  /** Shown at the start of the live line. */
  label?: string
}

/**
 * Progress in the output mode in force: a cli-progress bar on a terminal, a plain line every few seconds
 * without one, `progress` events with --json, nothing with --quiet.
 */
export class ProgressDisplay {
  private timer: NodeJS.Timeout | undefined
  private multibar: cliProgress.MultiBar | undefined
  private bar: cliProgress.SingleBar | undefined
  private peersLine: cliProgress.SingleBar | undefined
  private lastPlain = ''
  private readonly startedAt = Date.now()

  constructor (
    private readonly out: Output,
    private readonly kind: ProgressKind,
    private readonly sample: () => ProgressSample,
    private readonly options: ProgressDisplayOptions = {}
  ) {}

  get active (): boolean {
    return this.timer !== undefined
  }

  start (): void {
    if (this.timer || this.out.quiet) return
    if (this.out.json) {
      this.timer = setInterval(() => this.emitJson(), this.options.jsonIntervalMs ?? (this.kind === 'download' ? 1000 : 5000))
    } else if (this.out.interactive) {
      this.startBar()
      this.timer = setInterval(() => this.renderBar(), 200)
    } else {
      const every = this.options.plainIntervalMs ?? (this.kind === 'download' ? 5000 : 15000)
      this.timer = setInterval(() => this.printPlain(), every)
    }
    this.timer.unref()
  }

  /** Final update, then stop; the last bar stays on screen. */
  stop (): void {
    if (!this.timer) return
    clearInterval(this.timer)
    this.timer = undefined
    if (this.multibar) {
      this.renderBar()
      this.multibar.update()
      this.multibar.stop()
      this.multibar = undefined
      this.bar = undefined
      this.peersLine = undefined
      this.out.setSink(undefined)
    } else if (this.out.json) {
      this.emitJson()
    }
  }

  /** Two lines: the transfer (bar, percent, sizes, speed, ETA), then the peers by MSE method. */
  private startBar (): void {
    const columns = this.out.io.stdout.columns ?? 100
    const label = this.options.label ?? ''
    const format = this.kind === 'download'
      ? `${label}{bar} {pct} {got}/{size} ↓ {down} ↑ {up} | {remaining}`
      : `${label}seeding: uploaded {uploaded}, ↑ {up}, for {elapsed}`
    this.multibar = new cliProgress.MultiBar({
      stream: this.out.io.stdout as NodeJS.WriteStream,
      format,
      // The rest of the download line takes about 64 columns.
      barsize: Math.max(10, Math.min(40, columns - 66)),
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: false,
      linewrap: false,
      fps: 5,
      // Redraw unchanged lines too: the terminal echoes ^C over the live lines, and only a full redraw of
      // the final frame (in stop) wipes it.
      forceRedraw: true,
      gracefulExit: false
    })
    const payload = this.payload(this.sample())
    this.bar = this.multibar.create(1, 0, payload)
    this.peersLine = this.multibar.create(1, 0, payload, { format: `${label}peers {peers}` })
    this.out.setSink(line => this.multibar?.log(line + '\n'))
  }

  private payload (s: ProgressSample): Record<string, string> {
    const remaining = s.downloadSpeed > 0 && s.downloaded > 0 ? ((s.length - s.downloaded) / s.downloadSpeed) * 1000 : Infinity
    return {
      pct: formatPercent(s.progress).padStart(6),
      got: formatBytes(s.downloaded),
      size: formatBytes(s.length),
      down: formatSpeed(s.downloadSpeed),
      up: formatSpeed(s.uploadSpeed),
      uploaded: formatBytes(s.uploaded),
      peers: formatCounts(s.peers),
      remaining: s.progress >= 1 ? 'done' : Number.isFinite(remaining) ? `ETA ${formatDuration(remaining)}` : 'ETA ?',
      elapsed: formatDuration(Date.now() - this.startedAt)
    }
  }

  private renderBar (): void {
    if (!this.bar) return
    const s = this.sample()
    const total = Math.max(s.length, 1)
    this.bar.setTotal(total)
    const payload = this.payload(s)
    this.bar.update(this.kind === 'download' ? Math.min(s.downloaded, total) : total, payload)
    this.peersLine?.update(1, payload)
  }

  private emitJson (): void {
    const s = this.sample()
    this.out.event('progress', {
      side: this.options.side,
      progress: Number(s.progress.toFixed(4)),
      downloaded: s.downloaded,
      uploaded: s.uploaded,
      length: s.length,
      downloadSpeed: Math.round(s.downloadSpeed),
      uploadSpeed: Math.round(s.uploadSpeed),
      peers: s.peers
    })
  }

  private printPlain (): void {
    const s = this.sample()
    const p = this.payload(s)
    const line = this.kind === 'download'
      ? `${this.options.label ?? ''}progress ${p.pct.trim()} ${p.got}/${p.size}, down ${p.down}, up ${p.up}, peers ${p.peers}, ${p.remaining}`
      : `${this.options.label ?? ''}seeding: uploaded ${p.uploaded}, up ${p.up}, peers ${p.peers}`
    // Seeding is quiet unless something changed.
    const key = this.kind === 'seed' ? `${s.uploaded} ${p.peers}` : line
    if (this.kind === 'seed' && key === this.lastPlain) return
    this.lastPlain = key
    this.out.info(line)
  }
}
