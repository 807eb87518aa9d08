/**
 * Builds small synthetic capture files (classic pcap and pcapng) for parser tests, so the
 * reassembly corner cases (out of order, retransmits, overlaps, holes, port reuse) are tested
 * deterministically, without tcpdump.
 */
import { LINKTYPE } from '../capture.js'

export interface SynthSegment {
  src: string
  dst: string
  srcPort: number
  dstPort: number
  seq: number
  ack?: number
  flags?: Partial<{ syn: boolean; ack: boolean; fin: boolean; rst: boolean; psh: boolean }>
  payload?: Buffer
  ts?: number
}

function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map((o) => Number(o)))
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined]
  const h = head ? head.split(':') : []
  const t = tail !== undefined && tail !== '' ? tail.split(':') : []
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

export function tcpSegment(s: SynthSegment): Buffer {
  const tcp = Buffer.alloc(20)
  tcp.writeUInt16BE(s.srcPort, 0)
  tcp.writeUInt16BE(s.dstPort, 2)
  tcp.writeUInt32BE(s.seq >>> 0, 4)
  tcp.writeUInt32BE((s.ack ?? 0) >>> 0, 8)
  tcp[12] = 5 << 4
  const f = s.flags ?? { ack: true }
  tcp[13] = (f.fin ? 1 : 0) | (f.syn ? 2 : 0) | (f.rst ? 4 : 0) | (f.psh ? 8 : 0) | (f.ack ? 16 : 0)
  tcp.writeUInt16BE(65535, 14)
  return Buffer.concat([tcp, s.payload ?? Buffer.alloc(0)])
}

export function ipPacket(s: SynthSegment): Buffer {
  const tcp = tcpSegment(s)
  if (s.src.includes(':')) {
    const ip = Buffer.alloc(40)
    ip[0] = 0x60
    ip.writeUInt16BE(tcp.length, 4)
    ip[6] = 6
    ip[7] = 64
    ipv6Bytes(s.src).copy(ip, 8)
    ipv6Bytes(s.dst).copy(ip, 24)
    return Buffer.concat([ip, tcp])
  }
  const ip = Buffer.alloc(20)
  ip[0] = 0x45
  ip.writeUInt16BE(20 + tcp.length, 2)
  ip.writeUInt16BE(0x4000, 6) // DF
  ip[8] = 64
  ip[9] = 6
  ipv4Bytes(s.src).copy(ip, 12)
  ipv4Bytes(s.dst).copy(ip, 16)
  return Buffer.concat([ip, tcp])
}

/** Wrap an IP packet in the link layer of `linkType`. */
export function frame(linkType: number, ip: Buffer): Buffer {
  const v6 = ip[0]! >> 4 === 6
  const ethertype = v6 ? 0x86dd : 0x0800
  switch (linkType) {
    case LINKTYPE.EN10MB: {
      const h = Buffer.alloc(14)
      h.writeUInt16BE(ethertype, 12)
      return Buffer.concat([h, ip])
    }
    case LINKTYPE.LINUX_SLL: {
      const h = Buffer.alloc(16)
      h.writeUInt16BE(0, 0) // packet type: to us
      h.writeUInt16BE(772, 2) // ARPHRD_LOOPBACK
      h.writeUInt16BE(6, 4)
      h.writeUInt16BE(ethertype, 14)
      return Buffer.concat([h, ip])
    }
    case LINKTYPE.LINUX_SLL2: {
      const h = Buffer.alloc(20)
      h.writeUInt16BE(ethertype, 0)
      h.writeUInt32BE(1, 4) // ifindex
      h.writeUInt16BE(772, 8)
      h[11] = 6
      return Buffer.concat([h, ip])
    }
    case LINKTYPE.NULL: {
      const h = Buffer.alloc(4)
      h.writeUInt32LE(v6 ? 30 : 2, 0)
      return Buffer.concat([h, ip])
    }
    case LINKTYPE.RAW:
      return ip
    default:
      throw new Error(`builder: link type ${linkType} not supported`)
  }
}

export interface PcapOptions {
  linkType?: number
  littleEndian?: boolean
  nanos?: boolean
}

/** A classic pcap file of the given segments. */
export function buildPcap(segments: SynthSegment[], opts: PcapOptions = {}): Buffer {
  const linkType = opts.linkType ?? LINKTYPE.EN10MB
  const le = opts.littleEndian ?? true
  const w32 = (b: Buffer, v: number, o: number): void => { if (le) b.writeUInt32LE(v >>> 0, o); else b.writeUInt32BE(v >>> 0, o) }
  const w16 = (b: Buffer, v: number, o: number): void => { if (le) b.writeUInt16LE(v, o); else b.writeUInt16BE(v, o) }
  const gh = Buffer.alloc(24)
  w32(gh, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0)
  w16(gh, 2, 4)
  w16(gh, 4, 6)
  w32(gh, 262144, 16)
  w32(gh, linkType, 20)
  const parts: Buffer[] = [gh]
  segments.forEach((s, i) => {
    const data = frame(linkType, ipPacket(s))
    const rh = Buffer.alloc(16)
    const ts = s.ts ?? 1700000000 + i / 1000
    w32(rh, Math.floor(ts), 0)
    w32(rh, Math.round((ts % 1) * (opts.nanos ? 1e9 : 1e6)), 4)
    w32(rh, data.length, 8)
    w32(rh, data.length, 12)
    parts.push(rh, data)
  })
  return Buffer.concat(parts)
}

/** A little-endian pcapng file (SHB, one IDB, EPBs) of the given segments. */
export function buildPcapng(segments: SynthSegment[], linkType: number = LINKTYPE.EN10MB): Buffer {
  const block = (type: number, body: Buffer): Buffer => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)])
    const len = 12 + padded.length
    const b = Buffer.alloc(len)
    b.writeUInt32LE(type, 0)
    b.writeUInt32LE(len, 4)
    padded.copy(b, 8)
    b.writeUInt32LE(len, len - 4)
    return b
  }
  const shb = Buffer.alloc(16)
  shb.writeUInt32LE(0x1a2b3c4d, 0)
  shb.writeUInt16LE(1, 4)
  shb.writeUInt16LE(0, 6)
  shb.writeBigInt64LE(-1n, 8)
  const idb = Buffer.alloc(8)
  idb.writeUInt16LE(linkType, 0)
  idb.writeUInt32LE(262144, 4)
  const parts = [block(0x0a0d0d0a, shb), block(1, idb)]
  segments.forEach((s, i) => {
    const data = frame(linkType, ipPacket(s))
    const micros = BigInt(Math.round((s.ts ?? 1700000000 + i / 1000) * 1e6))
    const epb = Buffer.alloc(20)
    epb.writeUInt32LE(0, 0)
    epb.writeUInt32LE(Number(micros >> 32n), 4)
    epb.writeUInt32LE(Number(micros & 0xffffffffn), 8)
    epb.writeUInt32LE(data.length, 12)
    epb.writeUInt32LE(data.length, 16)
    parts.push(block(6, Buffer.concat([epb, data])))
  })
  return Buffer.concat(parts)
}

/**
 * The segments of one whole TCP connection: handshake, `aData` from A in `chunk`-byte
 * segments, `bData` from B, FIN both ways. Returned in wire order; tests reorder/duplicate them.
 */
export function connection(
  a: { ip: string; port: number },
  b: { ip: string; port: number },
  aData: Buffer,
  bData: Buffer,
  opts: { isnA?: number; isnB?: number; chunk?: number } = {},
): { syn: SynthSegment[]; aSegs: SynthSegment[]; bSegs: SynthSegment[]; fin: SynthSegment[] } {
  const isnA = opts.isnA ?? 1000
  const isnB = opts.isnB ?? 5000
  const chunk = opts.chunk ?? 100
  const AB = { src: a.ip, dst: b.ip, srcPort: a.port, dstPort: b.port }
  const BA = { src: b.ip, dst: a.ip, srcPort: b.port, dstPort: a.port }
  const seg = (base: typeof AB, isn: number, data: Buffer): SynthSegment[] => {
    const out: SynthSegment[] = []
    for (let o = 0; o < data.length; o += chunk) {
      out.push({ ...base, seq: (isn + 1 + o) >>> 0, flags: { ack: true, psh: true }, payload: data.subarray(o, o + chunk) })
    }
    return out
  }
  return {
    syn: [
      { ...AB, seq: isnA, flags: { syn: true } },
      { ...BA, seq: isnB, ack: isnA + 1, flags: { syn: true, ack: true } },
      { ...AB, seq: isnA + 1, ack: isnB + 1, flags: { ack: true } },
    ],
    aSegs: seg(AB, isnA, aData),
    bSegs: seg(BA, isnB, bData),
    fin: [
      { ...AB, seq: (isnA + 1 + aData.length) >>> 0, flags: { fin: true, ack: true } },
      { ...BA, seq: (isnB + 1 + bData.length) >>> 0, flags: { fin: true, ack: true } },
    ],
  }
}
