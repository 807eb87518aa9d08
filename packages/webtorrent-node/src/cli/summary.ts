import type { MseStats } from '../index.js'
import { averageSpeed, formatBytes, formatDuration, formatSpeed, table } from './format.js'
import { formatSessionPeers, methodTotals, mseStatsRows, type WireReport } from './peers.js'

export interface TransferSummary {
  /** Bytes the transfer was about: the torrent's length for a download, bytes uploaded for a seed. */
  bytes: number
  downloaded: number
  /** Bytes received from peers (less than `bytes` when some data was already on disk). */
  received?: number
  uploaded: number
  elapsedMs: number
  reports: WireReport[]
  stats: MseStats
}

/** The human summary printed when a transfer ends. */
export function summaryLines (kind: 'download' | 'seed', s: TransferSummary): string[] {
  const speed = formatSpeed(averageSpeed(s.bytes, s.elapsedMs))
  const head: Array<[string, string]> = kind === 'download'
    ? [['downloaded', `${formatBytes(s.bytes)} in ${formatDuration(s.elapsedMs)} (${speed} average)`],
        ['transferred', `received ${formatBytes(s.received ?? s.downloaded)}, uploaded ${formatBytes(s.uploaded)}`]]
    : [['uploaded', `${formatBytes(s.uploaded)} in ${formatDuration(s.elapsedMs)} (${speed} average)`]]
  return table([...head, ['peers', formatSessionPeers(s.reports)], ...mseStatsRows(s.stats)], '  ')
}

/** The same, for JSON events. */
export function summaryFields (s: TransferSummary): Record<string, unknown> {
  return {
    bytes: s.bytes,
    downloaded: s.downloaded,
    received: s.received,
    uploaded: s.uploaded,
    elapsedMs: s.elapsedMs,
    averageSpeed: Math.round(averageSpeed(s.bytes, s.elapsedMs)),
    peers: { connections: s.reports.length, byMethod: methodTotals(s.reports), fellBack: s.reports.filter(r => r.fallback).length },
    mseStats: s.stats
  }
}
