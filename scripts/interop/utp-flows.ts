/**
 * uTP (BEP 29) connections of a capture as flow parts, so that a uTP connection gets the same verdict as a
 * TCP one. tshark dissects the datagrams (`bt-utp`: type, seq_nr, payload length, extensions skipped) and
 * numbers the connections (`bt-utp.stream`); it has no uTP stream reassembly, so each direction's ST_DATA
 * payloads are put in seq_nr order here. seq_nr counts packets, not bytes, and wraps at 2^16.
 */
import type { Endpoint, FlowParts, ReassembledDirection } from './flows.js'
import { source, destination, type TcpRow } from './tcp-flows.js'

export const UTP_TYPE = { DATA: 0, FIN: 1, STATE: 2, RESET: 3, SYN: 4 } as const

/** Per-packet fields (`-e`) read for uTP, next to the IP and frame fields of TCP_FIELDS. */
export const UTP_FIELDS = ['udp.srcport', 'udp.dstport', 'bt-utp.stream', 'bt-utp.type', 'bt-utp.seq_nr', 'bt-utp.len', 'udp.payload'] as const

export type UtpRow = TcpRow & Record<(typeof UTP_FIELDS)[number], string>

const type = (r: UtpRow): number => Number(r['bt-utp.type'])
const sentBy = (r: UtpRow, e: Endpoint): boolean => source(r) === e.ip && Number(r['udp.srcport']) === e.port

/** seq - base for 16-bit sequence numbers, as a signed offset. */
function seqDiff16 (seq: number, base: number): number {
  const d = (seq - base) & 0xffff
  return d >= 0x8000 ? d - 0x10000 : d
}

/** The ST_DATA payloads of one direction in seq_nr order; `expectedFirst` is the seq_nr its first one must carry, if known. */
function reassemble (rows: UtpRow[], expectedFirst: number | undefined, startKnown: boolean): ReassembledDirection {
  const packets = new Map<number, Buffer>()
  let duplicateBytes = 0
  let last: number | undefined
  let truncated = 0
  for (const r of rows) {
    const len = Number(r['bt-utp.len'])
    if (type(r) !== UTP_TYPE.DATA || len === 0) continue
    const seq = Number(r['bt-utp.seq_nr'])
    // Unwrap against the previous data packet: reordering stays well within half the sequence space.
    const unwrapped = last === undefined ? seq : last + seqDiff16(seq, last & 0xffff)
    last = Math.max(last ?? unwrapped, unwrapped)
    if (Number(r['frame.cap_len']) < Number(r['frame.len'])) truncated++
    const datagram = Buffer.from(r['udp.payload'], 'hex')
    if (packets.has(unwrapped)) duplicateBytes += len
    else packets.set(unwrapped, datagram.subarray(datagram.length - len))
  }
  const seqs = [...packets.keys()].sort((x, y) => x - y)
  let holes = 0
  if (seqs.length > 0 && expectedFirst !== undefined && seqDiff16(seqs[0]!, expectedFirst) > 0) holes++
  for (let i = 1; i < seqs.length; i++) if (seqs[i]! !== seqs[i - 1]! + 1) holes++
  return { stream: Buffer.concat(seqs.map((s) => packets.get(s)!)), holes, duplicateBytes, truncated, startKnown: startKnown && expectedFirst !== undefined }
}

function utpFlow (rows: UtpRow[]): FlowParts {
  const syn = rows.find((r) => type(r) === UTP_TYPE.SYN)
  const first = syn ?? rows[0]!
  const initiator = { ip: source(first), port: Number(first['udp.srcport']) }
  const responder = { ip: destination(first), port: Number(first['udp.dstport']) }
  const fromA = rows.filter((r) => sentBy(r, initiator))
  const fromB = rows.filter((r) => sentBy(r, responder))
  // The initiator's first data packet follows its ST_SYN; the responder's carries the seq_nr of its ST_STATE
  // answering the SYN (sent before any of its data).
  const firstA = syn ? (Number(syn['bt-utp.seq_nr']) + 1) & 0xffff : undefined
  const state = syn ? fromB.find((r) => type(r) === UTP_TYPE.STATE || type(r) === UTP_TYPE.DATA) : undefined
  const firstB = state && type(state) === UTP_TYPE.STATE ? Number(state['bt-utp.seq_nr']) : undefined
  return {
    transport: 'utp',
    initiator,
    responder,
    sawSyn: syn !== undefined,
    firstTs: Number(rows[0]!['frame.time_epoch']),
    lastTs: Number(rows[rows.length - 1]!['frame.time_epoch']),
    closedBy: rows.some((r) => type(r) === UTP_TYPE.RESET) ? 'rst' : rows.some((r) => type(r) === UTP_TYPE.FIN) ? 'fin' : null,
    initiatorToResponder: reassemble(fromA, firstA, syn !== undefined),
    responderToInitiator: reassemble(fromB, firstB, syn !== undefined),
  }
}

/** Flow parts of every uTP connection in `rows` (tshark's per-packet fields of the uTP packets of a capture). */
export function utpFlows (rows: UtpRow[]): FlowParts[] {
  const byStream = new Map<string, UtpRow[]>()
  for (const r of rows) {
    const list = byStream.get(r['bt-utp.stream'])
    if (list) list.push(r)
    else byStream.set(r['bt-utp.stream'], [r])
  }
  return [...byStream.values()].map(utpFlow)
}
