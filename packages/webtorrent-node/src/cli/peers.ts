import type { MseStats, PeerConnectionInfo } from '../index.js'

type Method = NonNullable<PeerConnectionInfo['method']>

/** How one peer connection was made, as the CLI reports it. */
export interface WireReport {
  address: string
  /** initiator: we dialled; responder: the peer dialled us. */
  role?: PeerConnectionInfo['role']
  /** What we dialled (initiator only). */
  attempt?: PeerConnectionInfo['attempt']
  /** rc4, plaintext-after-mse, plaintext; undefined for connections without MSE (WebRTC, web seeds). */
  method?: Method
  /** This connection is the retry in the other mode after the peer hung up. */
  fallback: boolean
  /** Bytes of the BitTorrent handshake carried as MSE's initial payload (IA); 0 when none. */
  initialPayload?: number
  /** MSE handshake duration. */
  handshakeMs?: number
  /** uTP or TCP, from webtorrent's peer type. */
  transport?: string
}

/** Live counts over a torrent's current wires. */
export interface PeerCounts {
  total: number
  rc4: number
  /** AES-128-CTR: peers of this project (their PadC/PadD extension). */
  aes: number
  /** plaintext and plaintext-after-mse. */
  plaintext: number
  fellBack: number
  /** Connected but without MSE information (WebRTC peers). */
  other: number
}

export function countWires (wires: Iterable<any>): PeerCounts {
  const counts: PeerCounts = { total: 0, rc4: 0, aes: 0, plaintext: 0, fellBack: 0, other: 0 }
  for (const wire of wires) {
    counts.total++
    const info: PeerConnectionInfo | undefined = wire?.mse
    if (info?.method === 'rc4') counts.rc4++
    else if (info?.method === 'aes-128-ctr') counts.aes++
    else if (info?.method === 'plaintext' || info?.method === 'plaintext-after-mse') counts.plaintext++
    else counts.other++
    if (info?.fallback === true) counts.fellBack++
  }
  return counts
}

/** "2: rc4 1 · plaintext 1 · fell back 1" */
export function formatCounts (counts: PeerCounts): string {
  const parts = [`rc4 ${counts.rc4}`, `plaintext ${counts.plaintext}`, `fell back ${counts.fellBack}`]
  if (counts.aes > 0) parts.splice(1, 0, `aes ${counts.aes}`)
  if (counts.other > 0) parts.push(`other ${counts.other}`)
  return `${counts.total}: ${parts.join(' · ')}`
}

/**
 * Describes a wire from `wire.mse`, which the client completes before it announces the wire. Async so
 * that callers need not change if a future description needs to wait for something.
 */
export async function describeWire (_torrent: unknown, wire: any, address: string | undefined): Promise<WireReport> {
  const info: PeerConnectionInfo | undefined = wire?.mse
  const type: string | undefined = wire?.type
  return {
    address: displayAddress(address ?? (wire?.remoteAddress ? `${wire.remoteAddress}:${wire.remotePort}` : 'unknown')),
    role: info?.role,
    attempt: info?.attempt,
    method: info?.method,
    fallback: info?.fallback === true,
    initialPayload: info?.method === undefined ? undefined : info.initialPayloadLength,
    handshakeMs: info?.method === undefined ? undefined : info.handshakeMs,
    transport: type?.startsWith('utp') ? 'uTP' : type?.startsWith('tcp') ? 'TCP' : type
  }
}

/**
 * A peer address as people write it: `::ffff:127.0.0.1:5000` (an IPv4 peer on a dual-stack socket) ->
 * `127.0.0.1:5000`; an IPv6 address in brackets, `[2001:db8::1]:5000`, however webtorrent spelled it.
 */
export function displayAddress (address: string): string {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(address)
  const bare = bracketed ? undefined : /^(.*:.*):(\d+)$/.exec(address)
  const host = bracketed?.[1] ?? bare?.[1]
  const port = bracketed?.[2] ?? bare?.[2]
  if (host === undefined || port === undefined) return address
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)
  return v4 ? `${v4[1]}:${port}` : `[${host.toLowerCase()}]:${port}`
}

/** One key per peer, whatever the spelling (for matching --peer addresses to connection reports). */
export function peerKey (address: string): string {
  return displayAddress(address.trim())
}

/** "rc4 (MSE), IA carried the BitTorrent handshake", "plaintext (no MSE)", ... */
export function describeMethod (report: WireReport): string {
  let text: string
  switch (report.method) {
    case 'rc4':
      text = 'rc4 (MSE)'
      if (report.initialPayload !== undefined && report.initialPayload > 0) text += ', IA carried the BitTorrent handshake'
      break
    case 'aes-128-ctr':
      text = 'aes-128-ctr (MSE, negotiated with a webtorrent-mse peer)'
      if (report.initialPayload !== undefined && report.initialPayload > 0) text += ', IA carried the BitTorrent handshake'
      break
    case 'plaintext-after-mse':
      text = 'plaintext after an MSE handshake (the peers agreed on no encryption)'
      break
    case 'plaintext':
      text = 'plaintext (no MSE)'
      break
    default:
      text = 'no MSE information (not a TCP/uTP peer)'
  }
  if (report.fallback) {
    text += report.attempt === 'plaintext'
      ? ', on the retry in plaintext after the peer hung up on MSE'
      : ', on the retry with MSE after the peer hung up on plaintext'
  }
  return text
}

/** The JSON form of a wire report (the `wire` event's fields). */
export function wireFields (report: WireReport): Record<string, unknown> {
  return {
    address: report.address,
    role: report.role,
    transport: report.transport,
    method: report.method ?? null,
    fallback: report.fallback,
    initialPayload: report.initialPayload,
    handshakeMs: report.handshakeMs
  }
}

/** Connections over a whole session, by method (from the wire reports). */
export function methodTotals (reports: WireReport[]): Record<string, number> {
  const totals: Record<string, number> = { rc4: 0, 'plaintext-after-mse': 0, plaintext: 0 }
  for (const report of reports) {
    const key = report.method ?? 'other'
    totals[key] = (totals[key] ?? 0) + 1
  }
  return totals
}

/** Table rows for a client's mseStats. */
export function mseStatsRows (stats: MseStats): Array<[string, string]> {
  const errors = Object.entries(stats.errors).filter(([, n]) => (n ?? 0) > 0)
  return [
    ['MSE connected', `rc4 ${stats.connected.rc4}, ${stats.connected['aes-128-ctr'] > 0 ? `aes-128-ctr ${stats.connected['aes-128-ctr']}, ` : ''}plaintext after MSE ${stats.connected['plaintext-after-mse']}, plaintext ${stats.connected.plaintext}`],
    ['MSE dialled', `MSE ${stats.attempts.mse}, plaintext ${stats.attempts.plaintext}; fallbacks: to plaintext ${stats.fallbacks.toPlaintext}, to MSE ${stats.fallbacks.toMse}`],
    ['MSE errors', errors.length === 0 ? 'none' : errors.map(([code, n]) => `${code} ×${n}`).join(', ')]
  ]
}

/** "2 (rc4 1, plaintext 1, fell back 1)" over a session's wire reports. */
export function formatSessionPeers (reports: WireReport[]): string {
  const totals = methodTotals(reports)
  const parts = [`rc4 ${totals.rc4}`, `plaintext after MSE ${totals['plaintext-after-mse']}`, `plaintext ${totals.plaintext}`]
  if (totals['aes-128-ctr']) parts.splice(1, 0, `aes-128-ctr ${totals['aes-128-ctr']}`)
  if (totals.other) parts.push(`other ${totals.other}`)
  parts.push(`fell back ${reports.filter(r => r.fallback).length}`)
  return `${reports.length} connection${reports.length === 1 ? '' : 's'} (${parts.join(', ')})`
}
