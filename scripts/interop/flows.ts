/**
 * The flows of a capture and the verdict the interop suite needs on each: does a connection (TCP, or uTP
 * over UDP) open with the plaintext BitTorrent handshake (byte 19 + "BitTorrent protocol"), does "BitTorrent
 * protocol" appear in it at all (MSE that selected plaintext), or neither (RC4, or not BitTorrent).
 * tshark reads the file (tshark.ts); tcp-flows.ts and utp-flows.ts turn its output into flow records.
 */
import { tsharkFields } from './tshark.js'
import { tcpFlows, TCP_FIELDS } from './tcp-flows.js'
import { utpFlows, UTP_FIELDS } from './utp-flows.js'

export const BT_PROTOCOL = Buffer.from('BitTorrent protocol', 'latin1')
export const BT_HANDSHAKE_PREFIX = Buffer.concat([Buffer.from([19]), BT_PROTOCOL])

export interface Endpoint {
  ip: string
  port: number
}

export interface DirectionSummary {
  /** Reassembled payload bytes (holes excluded). */
  bytes: number
  /** The reassembled stream starts with 0x13 "BitTorrent protocol". */
  startsWithBtHandshake: boolean
  /** "BitTorrent protocol" occurs anywhere in the reassembled stream. */
  containsBtProtocol: boolean
  /** Offset of the first occurrence, -1 if none. */
  btProtocolOffset: number
  /** First bytes, hex (up to 32). */
  head: string
  /** Number of holes (missing sequence ranges) met while reassembling. */
  holes: number
  /** Payload bytes on the wire beyond the reassembled stream: retransmits, overlaps. */
  duplicateBytes: number
  /** Packets with payload cut by the snap length. */
  truncatedSegments: number
  /** Whether the stream's start is known (its SYN was seen), so `starts…` is meaningful. */
  startKnown: boolean
}

/** One direction's reassembled bytes and what was met on the way. */
export interface ReassembledDirection {
  stream: Buffer
  holes: number
  duplicateBytes: number
  truncated: number
  startKnown: boolean
}

export type FlowKind =
  /** One side opened with the plaintext BitTorrent handshake. */
  | 'plaintext'
  /** No plaintext opening, but "BitTorrent protocol" appears later: MSE that selected plaintext (crypto_select 0x01). */
  | 'mse-plaintext'
  /** Payload, and "BitTorrent protocol" nowhere: an encrypted (RC4) stream, or not BitTorrent at all. */
  | 'encrypted'
  /** No payload in either direction (refused, or closed right away). */
  | 'empty'

/** A connection's ends and timing, as tcp-flows.ts and utp-flows.ts read them and the verdict keeps them. */
interface FlowEnds {
  transport: 'tcp' | 'utp'
  /** The side that sent the SYN (if the capture saw it; else the first sender). */
  initiator: Endpoint
  responder: Endpoint
  sawSyn: boolean
  firstTs: number
  lastTs: number
  closedBy: 'fin' | 'rst' | null
}

export interface FlowRecord extends FlowEnds {
  /** Order of first appearance in the capture. */
  index: number
  initiatorToResponder: DirectionSummary
  responderToInitiator: DirectionSummary
  /** Either direction starts with the plaintext handshake. */
  plaintextHandshake: boolean
  /** Either direction contains "BitTorrent protocol". */
  containsBtProtocol: boolean
  kind: FlowKind
  /** Reassembled streams, only with `keepPayload`. */
  payload?: { initiatorToResponder: Buffer, responderToInitiator: Buffer }
}

/** What tcp-flows.ts and utp-flows.ts know of a connection before the verdict. */
export interface FlowParts extends FlowEnds {
  initiatorToResponder: ReassembledDirection
  responderToInitiator: ReassembledDirection
}

export interface CaptureStats {
  captured?: number
  receivedByFilter?: number
  droppedByKernel?: number
}

export interface CaptureAnalysis {
  file: string
  /** Packets of the analysed flows. */
  packets: number
  flows: FlowRecord[]
  /** tcpdump's counters, when the analysis came from stopAndAnalyse(). */
  stats?: CaptureStats
}

export interface AnalyseOptions {
  /** Keep the reassembled byte streams on each flow record. */
  keepPayload?: boolean
  /** Also the uTP connections on `ports` (UDP datagrams there dissected as uTP; needs `ports`). */
  utp?: boolean
}

/** What the suite asks of one direction's reassembled byte stream (TCP or uTP). */
export function summariseStream (r: ReassembledDirection): DirectionSummary {
  const idx = r.stream.indexOf(BT_PROTOCOL)
  return {
    bytes: r.stream.length,
    startsWithBtHandshake: r.stream.subarray(0, BT_HANDSHAKE_PREFIX.length).equals(BT_HANDSHAKE_PREFIX),
    containsBtProtocol: idx >= 0,
    btProtocolOffset: idx,
    head: r.stream.subarray(0, 32).toString('hex'),
    holes: r.holes,
    duplicateBytes: r.duplicateBytes,
    truncatedSegments: r.truncated,
    startKnown: r.startKnown,
  }
}

/** plaintext / mse-plaintext / encrypted / empty, from the two directions of a flow. */
export function flowKind (ab: DirectionSummary, ba: DirectionSummary): FlowKind {
  if (ab.bytes + ba.bytes === 0) return 'empty'
  if (ab.startsWithBtHandshake || ba.startsWithBtHandshake) return 'plaintext'
  return ab.containsBtProtocol || ba.containsBtProtocol ? 'mse-plaintext' : 'encrypted'
}

function toRecord (p: FlowParts, index: number, keepPayload: boolean): FlowRecord {
  const ab = summariseStream(p.initiatorToResponder)
  const ba = summariseStream(p.responderToInitiator)
  return {
    index,
    transport: p.transport,
    initiator: p.initiator,
    responder: p.responder,
    sawSyn: p.sawSyn,
    firstTs: p.firstTs,
    lastTs: p.lastTs,
    closedBy: p.closedBy,
    initiatorToResponder: ab,
    responderToInitiator: ba,
    plaintextHandshake: ab.startsWithBtHandshake || ba.startsWithBtHandshake,
    containsBtProtocol: ab.containsBtProtocol || ba.containsBtProtocol,
    kind: flowKind(ab, ba),
    ...(keepPayload ? { payload: { initiatorToResponder: p.initiatorToResponder.stream, responderToInitiator: p.responderToInitiator.stream } } : {}),
  }
}

/** tshark display filter: TCP (and uTP) packets with an endpoint on one of `ports`, if given. */
export function flowFilter (ports: number[], utp: boolean): string {
  const set = ports.length ? ` in {${[...new Set(ports)].join(', ')}}` : ''
  const tcp = set ? `tcp.port${set}` : 'tcp'
  return utp ? `${tcp} or (bt-utp and udp.port${set})` : tcp
}

/**
 * Analyse a capture file: per flow (restricted to flows with an endpoint on one of `ports`, if given),
 * endpoints, bytes each way, and whether each direction starts with / contains the plaintext BitTorrent
 * handshake string. Flows are numbered in order of first appearance.
 */
export async function analyseCapture (file: string, ports: number[] = [], opts: AnalyseOptions = {}): Promise<CaptureAnalysis> {
  const utp = opts.utp === true
  if (utp && ports.length === 0) throw new Error('uTP analysis needs the ports to dissect as uTP')
  const rows = await tsharkFields(file, { fields: [...TCP_FIELDS, ...UTP_FIELDS], filter: flowFilter(ports, utp), utpPorts: utp ? ports : [] })
  const parts = [
    ...await tcpFlows(file, rows.filter((r) => r['tcp.stream'] !== '')),
    ...(utp ? utpFlows(rows.filter((r) => r['bt-utp.stream'] !== '')) : []),
  ].sort((x, y) => x.firstTs - y.firstTs)
  return { file, packets: rows.length, flows: parts.map((p, i) => toRecord(p, i, opts.keepPayload === true)) }
}

/** One line per flow, for logs and assertion messages. */
export function describeFlows (flows: FlowRecord[]): string {
  return flows
    .map((f) => `#${f.index} ${f.transport === 'utp' ? 'uTP ' : ''}${f.initiator.ip}:${f.initiator.port} -> ${f.responder.ip}:${f.responder.port} ` +
      `${f.kind} out=${f.initiatorToResponder.bytes}B in=${f.responderToInitiator.bytes}B ` +
      (f.initiatorToResponder.holes + f.responderToInitiator.holes ? `HOLES=${f.initiatorToResponder.holes}/${f.responderToInitiator.holes} ` : '') +
      `head=${f.initiatorToResponder.head.slice(0, 16)}/${f.responderToInitiator.head.slice(0, 16)} ` +
      `${f.closedBy ?? 'open'}${f.sawSyn ? '' : ' (no SYN seen)'}`)
    .join('\n')
}
