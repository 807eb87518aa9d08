/**
 * tshark (Wireshark's command-line dissector, Debian package tshark) as the capture reader: it parses every
 * pcap/pcapng variant and link type, decodes IP, TCP, UDP and uTP (`bt-utp`), and reassembles each TCP
 * connection's two byte streams by sequence number (`-z follow,tcp,raw`), retransmits and reordering included.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { which } from './peers/common.js'

const run = promisify(execFile)
const TSHARK_TIMEOUT_MS = 120_000
/** Follow output is hex: twice the captured payload (a few MiB per interop scenario). */
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024

export function findTshark (): string | undefined {
  return which('tshark')
}

function tsharkPath (): string {
  const tshark = findTshark()
  if (!tshark) throw new Error('tshark not found (scripts/install-peers installs it)')
  return tshark
}

export interface FieldsQuery<F extends string> {
  fields: readonly F[]
  /** Display filter (`-Y`). */
  filter?: string
  /** UDP ports whose datagrams are dissected as uTP (`-d udp.port==P,bt-utp`); tshark's uTP heuristic is off. */
  utpPorts?: number[]
}

/** One row per packet that passes the filter, each field's first occurrence ('' when absent). */
export async function tsharkFields<F extends string> (file: string, q: FieldsQuery<F>): Promise<Array<Record<F, string>>> {
  const decodeAs = [...new Set(q.utpPorts ?? [])].flatMap((p) => ['-d', `udp.port==${p},bt-utp`])
  const args = ['-r', file, '-n', ...decodeAs, ...(q.filter ? ['-Y', q.filter] : []),
    '-T', 'fields', '-E', 'occurrence=f', '-E', 'separator=/t', ...q.fields.flatMap((f) => ['-e', f])]
  const { stdout } = await run(tsharkPath(), args, { timeout: TSHARK_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES })
  return stdout.split('\n').filter((line) => line !== '').map((line) => {
    const values = line.split('\t')
    return Object.fromEntries(q.fields.map((f, i) => [f, values[i] ?? ''])) as Record<F, string>
  })
}

/** One direction of a followed TCP stream. */
export interface FollowedDirection {
  /** The sender, as tshark prints it ("127.0.0.1" or "::1"), and its port. */
  ip: string
  port: number
  /** The payload in sequence order, each byte once; missing ranges left out. */
  stream: Buffer
  /**
   * Ranges tshark reports missing from the capture: a segment the other side acknowledged but the capture
   * lacks. (Bytes after a gap that nothing acknowledged, tshark holds back: tcp-flows.ts sees those from the
   * sequence numbers.)
   */
  holes: number
  /** Bytes of those ranges. */
  missingBytes: number
}

/**
 * Both directions of each TCP stream in `streams` (tshark's `tcp.stream` indices), reassembled by tshark in
 * one run. tshark's raw follow output prints, per stream, the two endpoints ("Node 0", "Node 1") and the
 * payload as hex lines, node 1's indented with a tab, with a "[N bytes missing in capture file]." line in
 * place of a segment the capture lacks.
 */
export async function followTcpStreams (file: string, streams: number[]): Promise<Map<number, [FollowedDirection, FollowedDirection]>> {
  const out = new Map<number, [FollowedDirection, FollowedDirection]>()
  if (streams.length === 0) return out
  const args = ['-r', file, '-n', '-q', ...streams.flatMap((s) => ['-z', `follow,tcp,raw,${s}`])]
  const { stdout } = await run(tsharkPath(), args, { timeout: TSHARK_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES })
  for (const block of stdout.split(/^=+$/m)) {
    const parsed = parseFollowBlock(block)
    if (parsed) out.set(parsed.stream, parsed.directions)
  }
  return out
}

/** A data line that reads as this text is tshark's marker of a hole (a payload chunk equal to it would be misread). */
const MISSING = /^\[(\d+) bytes missing in capture file\][.\0]?$/

function parseFollowBlock (block: string): { stream: number, directions: [FollowedDirection, FollowedDirection] } | undefined {
  const stream = /^Filter: tcp\.stream eq (\d+)$/m.exec(block)
  const nodes = [0, 1].map((n) => new RegExp(`^Node ${n}: \\[?(.*?)\\]?:(\\d+)$`, 'm').exec(block))
  if (!stream || !nodes[0] || !nodes[1]) return undefined
  const chunks: Buffer[][] = [[], []]
  const holes = [0, 0]
  const missingBytes = [0, 0]
  for (const line of block.split('\n')) {
    const m = /^(\t?)([0-9a-f]+)$/.exec(line)
    if (!m) continue
    const node = m[1] ? 1 : 0
    const bytes = Buffer.from(m[2]!, 'hex')
    const missing = MISSING.exec(bytes.toString('latin1'))
    if (missing) {
      holes[node]!++
      missingBytes[node]! += Number(missing[1])
    } else {
      chunks[node]!.push(bytes)
    }
  }
  const direction = (n: 0 | 1): FollowedDirection => ({
    ip: nodes[n]![1]!, port: Number(nodes[n]![2]), stream: Buffer.concat(chunks[n]!), holes: holes[n]!, missingBytes: missingBytes[n]!,
  })
  return { stream: Number(stream[1]), directions: [direction(0), direction(1)] }
}
