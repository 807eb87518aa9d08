import type { MseStats } from '../index.js'
import { averageSpeed, formatBytes, formatDuration, formatSpeed, table } from './format.js'
import { formatSessionPeers, methodTotals, mseStatsRows, type WireReport } from './peers.js'

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
