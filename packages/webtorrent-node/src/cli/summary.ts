import type { MseStats } from '../index.js'
import { averageSpeed, formatBytes, formatDuration, formatSpeed, table } from './format.js'
import type { Output } from './output.js'
import { formatSessionPeers, methodTotals, mseStatsRows, type WireReport } from './peers.js'
import type { WireWatch } from './wire-watch.js'

/**
 * What a transfer moved. Byte counts are piece data (payload) only: protocol messages and handshakes
 * are not counted, so a connection that never got past its handshake shows 0 uploaded.
 */
export interface TransferSummary {
  /** The torrent's length (download), or 0 (seed). */
  length: number
  /** Piece data received from peers in this run. */
  received: number
  /** Verified data that was already on disk when the run started (a resumed download). */
  alreadyOnDisk: number
  /** Piece data sent to peers in this run. */
  uploaded: number
  elapsedMs: number
  reports: WireReport[]
  stats: MseStats
}

/**
 * The transfer of the torrents `watches` followed: their piece data and connections, the client's MSE
 * stats; `torrent` gives a download's length and what was already on disk (a seed has neither).
 */
export function summarizeTransfer (watches: readonly WireWatch[], elapsedMs: number, stats: MseStats, torrent = { length: 0, alreadyOnDisk: 0 }): TransferSummary {
  return {
    length: torrent.length,
    received: watches.reduce((sum, watch) => sum + watch.payloadReceived, 0),
    alreadyOnDisk: torrent.alreadyOnDisk,
    uploaded: watches.reduce((sum, watch) => sum + watch.payloadSent, 0),
    elapsedMs,
    reports: watches.flatMap(watch => watch.reports),
    stats
  }
}

/** The human summary printed when a transfer ends or is interrupted. */
export function summaryLines (kind: 'download' | 'seed', s: TransferSummary): string[] {
  const head: Array<[string, string]> = []
  if (kind === 'download') {
    const resumed = s.alreadyOnDisk > 0 ? `; ${formatBytes(s.alreadyOnDisk)} was already on disk` : ''
    head.push(['downloaded', `${formatBytes(s.received)} in ${formatDuration(s.elapsedMs)} (${formatSpeed(averageSpeed(s.received, s.elapsedMs))} average)${resumed}`])
  }
  head.push(['uploaded', `${formatBytes(s.uploaded)}${kind === 'seed' ? ` in ${formatDuration(s.elapsedMs)} (${formatSpeed(averageSpeed(s.uploaded, s.elapsedMs))} average)` : ''}`])
  return table([...head, ['peers', formatSessionPeers(s.reports)], ...mseStatsRows(s.stats)], '  ')
}

export function printSummary (out: Output, kind: 'download' | 'seed', s: TransferSummary): void {
  for (const line of summaryLines(kind, s)) out.info(line)
}

/** The same, for JSON events. */
export function summaryFields (s: TransferSummary): Record<string, unknown> {
  return {
    received: s.received,
    alreadyOnDisk: s.alreadyOnDisk,
    uploaded: s.uploaded,
    elapsedMs: s.elapsedMs,
    averageSpeed: Math.round(averageSpeed(s.received, s.elapsedMs)),
    peers: { connections: s.reports.length, byMethod: methodTotals(s.reports), fellBack: s.reports.filter(r => r.fallback).length },
    mseStats: s.stats
  }
}
