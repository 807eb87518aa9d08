/**
 * Synthetic capture files for the capture tests, so the reassembly corner cases (out of order, retransmits,
 * overlaps, holes, sequence wrap, port reuse) are tested deterministically, without tcpdump. The tests say
 * what each packet holds; scapy (write-pcap.py, Debian python3-scapy) encodes the headers and the file.
 */
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findPythonWith } from '../python.js'

const WRITER = join(dirname(fileURLToPath(import.meta.url)), 'write-pcap.py')

export interface SynthSegment {
  src: string
  dst: string
  srcPort: number
  dstPort: number
  /** TCP (default) or a UDP datagram carrying `payload` (seq, ack and flags unused). */
  proto?: 'tcp' | 'udp'
  seq?: number
  ack?: number
  flags?: Partial<{ syn: boolean, ack: boolean, fin: boolean, rst: boolean, psh: boolean }>
  payload?: Buffer
  /** Seconds since the epoch; default: 1 ms after the previous packet, from 1 700 000 000. */
  ts?: number
}

export interface CaptureFormat {
  format?: 'pcap' | 'pcapng'
  link?: 'EN10MB' | 'LINUX_SLL' | 'LINUX_SLL2' | 'NULL' | 'RAW'
  nanos?: boolean
  bigEndian?: boolean
}

const FLAG_LETTERS = { syn: 'S', ack: 'A', fin: 'F', rst: 'R', psh: 'P' } as const

export interface SynthCapture extends CaptureFormat {
  file: string
  /** The packets, in file order. */
  segs: SynthSegment[]
}

/** Writes every capture of `captures` (one python run: scapy takes a second or two to load). */
export function writeCaptures (captures: SynthCapture[]): void {
  const py = findPythonWith('scapy')
  if (!py) throw new Error('no python3 can import scapy (package python3-scapy; scripts/install-peers installs it)')
  const input = JSON.stringify(captures.map(({ segs, ...rest }) => ({ ...rest, packets: packetsOf(segs) })))
  const r = spawnSync(py.python, [WRITER], { input, encoding: 'utf8', timeout: 120000, maxBuffer: 64 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`write-pcap.py failed (${r.status ?? r.signal}): ${r.stderr}`)
}

function packetsOf (segs: SynthSegment[]): object[] {
  let ts = 1_700_000_000
  return segs.map((s) => {
    ts = s.ts ?? ts + 0.001
    const flags = Object.entries(s.flags ?? {}).filter(([, on]) => on).map(([f]) => FLAG_LETTERS[f as keyof typeof FLAG_LETTERS]).join('')
    return {
      ts,
      src: s.src,
      dst: s.dst,
      sport: s.srcPort,
      dport: s.dstPort,
      proto: s.proto ?? 'tcp',
      seq: s.seq ?? 0,
      ack: s.ack ?? 0,
      flags,
      payload: (s.payload ?? Buffer.alloc(0)).toString('hex'),
    }
  })
}

/** A whole TCP connection: handshake, each side's data cut into `chunk`-byte segments, FIN both ways. */
export function connection (
  a: { ip: string, port: number },
  b: { ip: string, port: number },
  aData: Buffer,
  bData: Buffer,
  opts: { isnA?: number, isnB?: number, chunk?: number } = {}
): { syn: SynthSegment[], aSegs: SynthSegment[], bSegs: SynthSegment[], fin: SynthSegment[] } {
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
    // Each FIN acknowledges all the other side sent (and B's, A's FIN): the acknowledgement is what tells a
    // segment missing from the capture from one never sent.
    fin: [
      { ...AB, seq: (isnA + 1 + aData.length) >>> 0, ack: (isnB + 1 + bData.length) >>> 0, flags: { fin: true, ack: true } },
      { ...BA, seq: (isnB + 1 + bData.length) >>> 0, ack: (isnA + 2 + aData.length) >>> 0, flags: { fin: true, ack: true } },
    ],
  }
}
