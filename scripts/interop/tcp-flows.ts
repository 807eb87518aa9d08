/**
 * TCP connections of a capture as flow parts: tshark numbers the connections (`tcp.stream`, a new one when a
 * 4-tuple is reused after a close) and reassembles their byte streams (tshark.ts `followTcpStreams`); this
 * file only tells the initiator from the responder and counts what each direction met on the way.
 */
import { followTcpStreams, type FollowedDirection } from './tshark.js'
import type { Endpoint, FlowParts, ReassembledDirection } from './flows.js'

/** Per-packet fields (`-e`) read for TCP; the IP and frame fields serve uTP too. */
export const TCP_FIELDS = [
  'frame.time_epoch', 'frame.len', 'frame.cap_len', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst',
  'tcp.stream', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.fin', 'tcp.flags.reset', 'tcp.len', 'tcp.nxtseq',
] as const

export type TcpRow = Record<(typeof TCP_FIELDS)[number], string>

/** tshark 4.0 prints booleans as 1/0, later versions as True/False. */
export const flag = (v: string): boolean => v === '1' || v === 'True'

export const source = (r: TcpRow): string => r['ip.src'] || r['ipv6.src']
export const destination = (r: TcpRow): string => r['ip.dst'] || r['ipv6.dst']
const endpointKey = (ip: string, port: number | string): string => `${ip}|${port}`

/** The side that opened: the sender of a pure SYN, the receiver of a SYN-ACK, else the first sender. */
function initiatorOf (rows: TcpRow[]): { initiator: Endpoint, responder: Endpoint } {
  const syn = rows.find((r) => flag(r['tcp.flags.syn']))
  const first = syn ?? rows[0]!
  const src = { ip: source(first), port: Number(first['tcp.srcport']) }
  const dst = { ip: destination(first), port: Number(first['tcp.dstport']) }
  return syn && flag(syn['tcp.flags.ack']) ? { initiator: dst, responder: src } : { initiator: src, responder: dst }
}

/**
 * Bytes of sequence space the data segments of one direction cover: tshark's relative sequence numbers start
 * at 1 after the SYN (or at the first segment seen), and a SYN or FIN counts one in the next sequence number.
 */
function sequenceSpan (sent: TcpRow[]): number {
  return sent.filter((r) => Number(r['tcp.len']) > 0)
    .reduce((n, r) => Math.max(n, Number(r['tcp.nxtseq']) - 1 - (flag(r['tcp.flags.fin']) ? 1 : 0)), 0)
}

/** What the packets sent by `from` say about its direction; the bytes themselves come from tshark's follow. */
function direction (rows: TcpRow[], from: Endpoint, followed: FollowedDirection | undefined): ReassembledDirection {
  const sent = rows.filter((r) => source(r) === from.ip && Number(r['tcp.srcport']) === from.port)
  const wireBytes = sent.reduce((n, r) => n + Number(r['tcp.len']), 0)
  const stream = followed?.stream ?? Buffer.alloc(0)
  // Data past a gap that no acknowledgement covers is held back by tshark: one more hole, not a shorter stream.
  const heldBack = sequenceSpan(sent) > stream.length + (followed?.missingBytes ?? 0)
  return {
    stream,
    holes: (followed?.holes ?? 0) + (heldBack ? 1 : 0),
    duplicateBytes: Math.max(0, wireBytes - stream.length),
    truncated: sent.filter((r) => Number(r['tcp.len']) > 0 && Number(r['frame.cap_len']) < Number(r['frame.len'])).length,
    startKnown: sent.some((r) => flag(r['tcp.flags.syn'])),
  }
}

/** Flow parts of every TCP connection in `rows` (tshark's per-packet fields of the TCP packets of `file`). */
export async function tcpFlows (file: string, rows: TcpRow[]): Promise<FlowParts[]> {
  const byStream = new Map<number, TcpRow[]>()
  for (const r of rows) {
    const s = Number(r['tcp.stream'])
    const list = byStream.get(s)
    if (list) list.push(r)
    else byStream.set(s, [r])
  }
  const withPayload = [...byStream].filter(([, rs]) => rs.some((r) => Number(r['tcp.len']) > 0)).map(([s]) => s)
  const followed = await followTcpStreams(file, withPayload)
  return [...byStream].sort(([a], [b]) => a - b).map(([s, rs]): FlowParts => {
    const { initiator, responder } = initiatorOf(rs)
    const dirs = new Map((followed.get(s) ?? []).map((d) => [endpointKey(d.ip, d.port), d]))
    return {
      transport: 'tcp',
      initiator,
      responder,
      sawSyn: rs.some((r) => flag(r['tcp.flags.syn'])),
      firstTs: Number(rs[0]!['frame.time_epoch']),
      lastTs: Number(rs[rs.length - 1]!['frame.time_epoch']),
      closedBy: rs.some((r) => flag(r['tcp.flags.reset'])) ? 'rst' : rs.some((r) => flag(r['tcp.flags.fin'])) ? 'fin' : null,
      initiatorToResponder: direction(rs, initiator, dirs.get(endpointKey(initiator.ip, initiator.port))),
      responderToInitiator: direction(rs, responder, dirs.get(endpointKey(responder.ip, responder.port))),
    }
  })
}
