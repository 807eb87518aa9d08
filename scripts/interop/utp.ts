/**
 * uTP (BEP 29) in a capture: UDP datagrams decoded as uTP packets, grouped into connections and each
 * direction's ST_DATA payloads put back in sequence order, so that a uTP connection gets the same flow record
 * (and the same plaintext / mse-plaintext / encrypted verdict) as a TCP one. Pass `utpFlows` as
 * `extraFlows` to `analyseCapture` / `stopAndAnalyse`.
 *
 * The uTP header (BEP 29), 20 bytes, big-endian:
 *   type (4 bits) | version (4 bits, 1), extension, connection_id (16), timestamp_microseconds (32),
 *   timestamp_difference_microseconds (32), wnd_size (32), seq_nr (16), ack_nr (16)
 * then a chain of extensions (next extension type, length, bytes) while the extension type is not 0, then
 * the payload. seq_nr counts packets, not bytes. The initiator's ST_SYN carries connection_id X (its receive
 * id); afterwards it sends with X + 1 and the responder sends with X.
 */
import {
  ipPayload, summariseStream, flowKind,
  type AnalyseOptions, type Endpoint, type FlowRecord, type Packet,
} from './capture.js'

export const UTP_TYPE = { DATA: 0, FIN: 1, STATE: 2, RESET: 3, SYN: 4 } as const
const UTP_HEADER_LENGTH = 20

export interface UdpDatagram {
  ts: number
  src: string
  dst: string
  srcPort: number
  dstPort: number
  payload: Buffer
  /** Cut by the snap length. */
  truncated: boolean
}

export interface UtpPacket {
  type: number
  connectionId: number
  seq: number
  ack: number
  payload: Buffer
}

/** The UDP datagram of one IPv4 or IPv6 packet (undefined for anything else, and for fragments). */
export function decodeUdp(p: Packet): UdpDatagram | undefined {
  const ip = ipPayload(p)
  if (!ip || ip.length < 1) return undefined
  const version = ip[0]! >> 4
  let src: string
  let dst: string
  let udp: Buffer
  if (version === 4) {
    if (ip.length < 20) return undefined
    const fragField = ip.readUInt16BE(6)
    if ((fragField & 0x1fff) !== 0 || (fragField & 0x2000) !== 0) return undefined
    if (ip[9] !== 17) return undefined
    src = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`
    dst = `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`
    udp = ip.subarray((ip[0]! & 0x0f) * 4)
  } else if (version === 6) {
    // No extension headers: loopback uTP never carries them.
    if (ip.length < 40 || ip[6] !== 17) return undefined
    const hex = (b: Buffer): string => [...Array(8).keys()].map((i) => b.readUInt16BE(i * 2).toString(16)).join(':')
    src = hex(ip.subarray(8, 24))
    dst = hex(ip.subarray(24, 40))
    udp = ip.subarray(40)
  } else {
    return undefined
  }
  if (udp.length < 8) return undefined
  const length = udp.readUInt16BE(4)
  const end = Math.min(length, udp.length)
  return {
    ts: p.ts,
    src,
    dst,
    srcPort: udp.readUInt16BE(0),
    dstPort: udp.readUInt16BE(2),
    payload: udp.subarray(8, Math.max(8, end)),
    truncated: udp.length < length,
  }
}

/** A uTP packet, or undefined when the datagram is not one (wrong version or type, bad extension chain). */
export function decodeUtp(datagram: Buffer): UtpPacket | undefined {
  if (datagram.length < UTP_HEADER_LENGTH) return undefined
  const type = datagram[0]! >> 4
  const version = datagram[0]! & 0x0f
  if (version !== 1 || type > UTP_TYPE.SYN) return undefined
  let extension = datagram[1]!
  let off = UTP_HEADER_LENGTH
  // Each extension: next extension type, length, bytes. Bounded by the datagram's length.
  while (extension !== 0) {
    if (off + 2 > datagram.length) return undefined
    const next = datagram[off]!
    const len = datagram[off + 1]!
    off += 2 + len
    if (off > datagram.length) return undefined
    extension = next
  }
  return {
    type,
    connectionId: datagram.readUInt16BE(2),
    seq: datagram.readUInt16BE(16),
    ack: datagram.readUInt16BE(18),
    payload: datagram.subarray(off),
  }
}

interface DirState {
  /** Unwrapped seq_nr of the last data packet seen, to unwrap the next one. */
  last?: number
  /** The first data packet's seq_nr must be this (unwrapped against the first data packet), when known. */
  expectedFirst?: number
  packets: Map<number, Buffer>
  duplicateBytes: number
  truncated: number
}

interface FlowState {
  index: number
  a: Endpoint
  b: Endpoint
  sawSyn: boolean
  firstTs: number
  lastTs: number
  closedBy: 'fin' | 'rst' | null
  aToB: DirState
  bToA: DirState
}

const ep = (ip: string, port: number): string => `${ip}|${port}`
const u16 = (n: number): number => n & 0xffff
/** seq - base for 16-bit sequence numbers, as a signed offset. */
const seqDiff16 = (seq: number, base: number): number => {
  const d = u16(seq - base)
  return d >= 0x8000 ? d - 0x10000 : d
}

function newDir(): DirState {
  return { packets: new Map(), duplicateBytes: 0, truncated: 0 }
}

function addData(dir: DirState, seq: number, payload: Buffer, truncated: boolean): void {
  const unwrapped = dir.last === undefined ? seq : dir.last + seqDiff16(seq, u16(dir.last))
  if (dir.last === undefined) {
    if (dir.expectedFirst !== undefined) dir.expectedFirst = seq + seqDiff16(dir.expectedFirst, seq)
    dir.last = unwrapped
  } else if (unwrapped > dir.last) {
    dir.last = unwrapped
  }
  if (truncated) dir.truncated++
  if (dir.packets.has(unwrapped)) dir.duplicateBytes += payload.length
  else dir.packets.set(unwrapped, payload)
}

function reassemble(dir: DirState, startKnown: boolean): { stream: Buffer; holes: number; duplicateBytes: number; truncated: number; startKnown: boolean } {
  const seqs = [...dir.packets.keys()].sort((x, y) => x - y)
  let holes = 0
  if (seqs.length > 0 && dir.expectedFirst !== undefined && seqs[0]! > dir.expectedFirst) holes++
  for (let i = 1; i < seqs.length; i++) if (seqs[i]! !== seqs[i - 1]! + 1) holes++
  return {
    stream: Buffer.concat(seqs.map((s) => dir.packets.get(s)!)),
    holes,
    duplicateBytes: dir.duplicateBytes,
    truncated: dir.truncated,
    startKnown: startKnown && dir.expectedFirst !== undefined,
  }
}

/**
 * Every uTP connection in `packets` (restricted to datagrams with an endpoint on one of `ports`, if given),
 * as flow records with `transport: 'utp'`. Datagrams that are not uTP are ignored.
 */
export function utpFlows(packets: Packet[], ports?: number[], opts: AnalyseOptions = {}): FlowRecord[] {
  const portSet = ports && ports.length ? new Set(ports) : undefined
  /** "src>dst#connection_id" -> flow, and whether that sender is the initiator. */
  const routes = new Map<string, { flow: FlowState; fromA: boolean }>()
  const all: FlowState[] = []
  const route = (from: string, to: string, id: number): string => `${from}>${to}#${u16(id)}`
  for (const p of packets) {
    const d = decodeUdp(p)
    if (!d) continue
    if (portSet && !portSet.has(d.srcPort) && !portSet.has(d.dstPort)) continue
    const u = decodeUtp(d.payload)
    if (!u) continue
    const s = ep(d.src, d.srcPort)
    const t = ep(d.dst, d.dstPort)
    let r = routes.get(route(s, t, u.connectionId))
    if (!r && u.type === UTP_TYPE.SYN) {
      const flow: FlowState = {
        index: all.length,
        a: { ip: d.src, port: d.srcPort },
        b: { ip: d.dst, port: d.dstPort },
        sawSyn: true,
        firstTs: d.ts,
        lastTs: d.ts,
        closedBy: null,
        aToB: { ...newDir(), expectedFirst: u16(u.seq + 1) },
        bToA: newDir(),
      }
      all.push(flow)
      routes.set(route(s, t, u.connectionId), { flow, fromA: true }) // the SYN, retransmitted
      routes.set(route(s, t, u.connectionId + 1), { flow, fromA: true })
      routes.set(route(t, s, u.connectionId), { flow, fromA: false })
      r = { flow, fromA: true }
    } else if (!r) {
      // Its SYN was not captured: take the sender for the initiator, which sends with the responder's id + 1.
      const flow: FlowState = {
        index: all.length,
        a: { ip: d.src, port: d.srcPort },
        b: { ip: d.dst, port: d.dstPort },
        sawSyn: false,
        firstTs: d.ts,
        lastTs: d.ts,
        closedBy: null,
        aToB: newDir(),
        bToA: newDir(),
      }
      all.push(flow)
      routes.set(route(s, t, u.connectionId), { flow, fromA: true })
      routes.set(route(t, s, u.connectionId - 1), { flow, fromA: false })
      r = { flow, fromA: true }
    }
    const { flow, fromA } = r
    flow.lastTs = d.ts
    const dir = fromA ? flow.aToB : flow.bToA
    switch (u.type) {
      case UTP_TYPE.DATA:
        if (u.payload.length > 0) addData(dir, u.seq, u.payload, d.truncated)
        break
      case UTP_TYPE.STATE:
        // The responder's answer to the SYN: its first data packet carries this seq_nr (or the next).
        if (!fromA && dir.last === undefined && dir.expectedFirst === undefined && flow.sawSyn) dir.expectedFirst = u.seq
        break
      case UTP_TYPE.FIN:
        flow.closedBy ??= 'fin'
        break
      case UTP_TYPE.RESET:
        flow.closedBy = 'rst'
        break
    }
  }
  return all.map((f): FlowRecord => {
    const keep: Buffer[] = []
    const summary = (dir: DirState) => {
      const r = reassemble(dir, f.sawSyn)
      keep.push(r.stream)
      return summariseStream(r)
    }
    const ab = summary(f.aToB)
    const ba = summary(f.bToA)
    return {
      index: f.index,
      transport: 'utp',
      initiator: f.a,
      responder: f.b,
      sawSyn: f.sawSyn,
      firstTs: f.firstTs,
      lastTs: f.lastTs,
      closedBy: f.closedBy,
      initiatorToResponder: ab,
      responderToInitiator: ba,
      plaintextHandshake: ab.startsWithBtHandshake || ba.startsWithBtHandshake,
      containsBtProtocol: ab.containsBtProtocol || ba.containsBtProtocol,
      kind: flowKind(ab, ba),
      ...(opts.keepPayload ? { payload: { initiatorToResponder: keep[0]!, responderToInitiator: keep[1]! } } : {}),
    }
  })
}
