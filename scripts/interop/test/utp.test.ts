/**
 * uTP reassembly (utp-flows.ts, over tshark's bt-utp dissector) on synthetic datagrams: the uTP flows of the interop suite must be read as
 * faithfully as its TCP flows, or "no plaintext handshake crosses" would mean nothing.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { analyseCapture, BT_HANDSHAKE_PREFIX, type FlowRecord } from '../flows.js'
import { UTP_TYPE } from '../utp-flows.js'
import { requirePeers } from '../availability.js'
import { makeTempDir, removeDir } from '../peers/common.js'
import { writeCaptures, type SynthCapture, type SynthSegment } from './synthetic-capture.js'

const A = { ip: '127.0.0.1', port: 40001 }
const B = { ip: '127.0.0.1', port: 6881 }
type Ep = typeof A

interface Synth {
  from: Ep
  to: Ep
  type: number
  connectionId: number
  seq: number
  payload?: Buffer
  /** Extensions as [type, bytes] pairs, chained in the header. */
  extensions?: Array<[number, Buffer]>
}

function utpDatagram (s: Synth): Buffer {
  const header = Buffer.alloc(20)
  header[0] = (s.type << 4) | 1
  header[1] = s.extensions?.[0]?.[0] ?? 0
  header.writeUInt16BE(s.connectionId & 0xffff, 2)
  header.writeUInt32BE(1000, 4)
  header.writeUInt32BE(0, 8)
  header.writeUInt32BE(1 << 20, 12)
  header.writeUInt16BE(s.seq & 0xffff, 16)
  header.writeUInt16BE(0, 18)
  const ext = (s.extensions ?? []).map(([, bytes], i, all) => Buffer.concat([Buffer.from([all[i + 1]?.[0] ?? 0, bytes.length]), bytes]))
  return Buffer.concat([header, ...ext, s.payload ?? Buffer.alloc(0)])
}

/** A UDP datagram from `from` to `to` carrying `payload`. */
const udp = (from: Ep, to: Ep, payload: Buffer): SynthSegment =>
  ({ proto: 'udp', src: from.ip, dst: to.ip, srcPort: from.port, dstPort: to.port, payload })

const packet = (s: Synth): SynthSegment => udp(s.from, s.to, utpDatagram(s))

/** A whole connection: SYN, STATE, each side's data cut into `mtu`-byte ST_DATA packets, FIN. */
function connection (id: number, synSeq: number, stateSeq: number, aData: Buffer, bData: Buffer, mtu = 1000): { syn: SynthSegment[], a: SynthSegment[], b: SynthSegment[], fin: SynthSegment[] } {
  const chunks = (d: Buffer): Buffer[] => { const out: Buffer[] = []; for (let i = 0; i < d.length; i += mtu) out.push(d.subarray(i, i + mtu)); return out }
  return {
    syn: [
      packet({ from: A, to: B, type: UTP_TYPE.SYN, connectionId: id, seq: synSeq }),
      packet({ from: B, to: A, type: UTP_TYPE.STATE, connectionId: id, seq: stateSeq })
    ],
    a: chunks(aData).map((c, i) => packet({ from: A, to: B, type: UTP_TYPE.DATA, connectionId: id + 1, seq: synSeq + 1 + i, payload: c })),
    b: chunks(bData).map((c, i) => packet({ from: B, to: A, type: UTP_TYPE.DATA, connectionId: id, seq: stateSeq + i, payload: c })),
    fin: [packet({ from: A, to: B, type: UTP_TYPE.FIN, connectionId: id + 1, seq: synSeq + 1 + chunks(aData).length })]
  }
}

describe('uTP in a capture: decoding and reassembly (synthetic datagrams)', function () {
  const aData = Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(48, 7), randomBytes(3000)])
  const bData = randomBytes(4500)
  // Every capture is written in one scapy run before the tests, each test reads its own.
  const captures = new Map<string, SynthCapture>()
  let dir = ''
  const analyse = async (name: string, ports = [B.port]): Promise<FlowRecord[]> =>
    (await analyseCapture(captures.get(name)!.file, ports, { utp: true, keepPayload: true })).flows

  const whole = connection(1000, 500, 9000, aData, bData)
  const wrap = connection(7, 65530, 65533, aData, bData, 700)
  const lossy = connection(7, 100, 200, aData, bData)
  const extPayload = Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(10)])
  const ext = connection(3, 8, 20, Buffer.alloc(0), Buffer.alloc(0))
  const withExtensions = packet({ from: A, to: B, type: UTP_TYPE.DATA, connectionId: 4, seq: 9, payload: extPayload, extensions: [[1, Buffer.alloc(4, 0xff)], [2, Buffer.alloc(8, 0xee)]] })
  const bad = [Buffer.from('d1:ad2:id20:'), Buffer.alloc(19), Buffer.concat([Buffer.from([0x02]), Buffer.alloc(25)]), Buffer.concat([Buffer.from([0x51]), Buffer.alloc(25)])]
  const one = connection(1000, 1, 50, Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(48)]), Buffer.alloc(0))
  const two = connection(4000, 1, 80, randomBytes(900), randomBytes(700))
  const noSyn = connection(1000, 10, 20, aData, bData)

  before(async function () {
    await requirePeers(this, 'tshark', 'scapy')
    dir = makeTempDir('synthutp')
    const add = (name: string, segs: SynthSegment[]): void => { captures.set(name, { file: join(dir, `${name}.pcap`), segs }) }
    add('whole', [...whole.syn, ...whole.a, ...whole.b, ...whole.fin])
    add('wrap', [...wrap.syn, ...[...wrap.a].reverse(), wrap.a[2]!, ...wrap.b, wrap.b[0]!, ...wrap.fin])
    add('lossy', [...lossy.syn, ...lossy.a.slice(1), ...lossy.b.filter((_p, i) => i !== 2), ...lossy.fin])
    // The data packet with extensions, then the same with its extension chain cut short (not uTP data).
    add('extensions', [...ext.syn, withExtensions, udp(A, B, utpDatagram({ from: A, to: B, type: UTP_TYPE.DATA, connectionId: 4, seq: 10, extensions: [[1, Buffer.alloc(4, 0xff)]] }).subarray(0, 22))])
    add('not-utp', bad.map((b) => udp(A, B, b)))
    add('two', [...one.syn, ...two.syn, ...one.a, ...two.a, ...two.b, ...one.fin, ...two.fin])
    add('port-filter', [...noSyn.syn, ...noSyn.a])
    add('no-syn-data', [...noSyn.a.slice(0, 2), ...noSyn.b])
    writeCaptures([...captures.values()])
  })
  after(function () {
    if (dir) removeDir(dir)
  })

  it('reassembles both directions of a connection and finds a plaintext handshake in it', async function () {
    const flows = await analyse('whole')
    expect(flows).to.have.length(1)
    const f = flows[0]!
    expect(f).to.include({ transport: 'utp', sawSyn: true, closedBy: 'fin', kind: 'plaintext' })
    expect(f.initiator).to.deep.equal(A)
    expect(f.responder).to.deep.equal(B)
    expect(f.payload!.initiatorToResponder.equals(aData)).to.equal(true)
    expect(f.payload!.responderToInitiator.equals(bData)).to.equal(true)
    expect(f.initiatorToResponder).to.include({ startsWithBtHandshake: true, startKnown: true, holes: 0 })
    expect(f.responderToInitiator).to.include({ startsWithBtHandshake: false, containsBtProtocol: false, startKnown: true, holes: 0 })
  })

  it('orders by seq_nr, drops retransmits, and copes with seq_nr wrapping around 2^16', async function () {
    const f = (await analyse('wrap'))[0]!
    expect(f.payload!.initiatorToResponder.equals(aData)).to.equal(true)
    expect(f.payload!.responderToInitiator.equals(bData)).to.equal(true)
    expect(f.initiatorToResponder.duplicateBytes).to.equal(700)
    expect(f.responderToInitiator.duplicateBytes).to.equal(700)
    expect(f.initiatorToResponder.holes + f.responderToInitiator.holes).to.equal(0)
  })

  it('counts a lost packet as a hole, including a lost first packet', async function () {
    const flows = await analyse('lossy')
    expect(flows[0]!.initiatorToResponder.holes).to.equal(1)
    expect(flows[0]!.initiatorToResponder.startsWithBtHandshake).to.equal(false)
    expect(flows[0]!.responderToInitiator.holes).to.equal(1)
  })

  it('skips the extension chain (selective ACK and others) to find the payload, and takes no data from a broken chain', async function () {
    const flows = await analyse('extensions')
    expect(flows).to.have.length(1)
    expect(flows[0]!.payload!.initiatorToResponder.equals(extPayload)).to.equal(true)
  })

  it('ignores datagrams that are not uTP (wrong version or type, too short)', async function () {
    expect(await analyse('not-utp')).to.have.length(0)
  })

  it('separates two connections on the same port pair by connection id, and classifies each', async function () {
    const flows = await analyse('two')
    expect(flows.map(f => f.kind)).to.deep.equal(['plaintext', 'encrypted'])
    expect(flows[1]!.initiatorToResponder.bytes).to.equal(900)
    expect(flows[1]!.responderToInitiator.bytes).to.equal(700)
  })

  it('filters by port, and without the SYN takes the first sender for the initiator and says the start is unknown', async function () {
    expect(await analyse('port-filter', [1234])).to.have.length(0)
    const flows = await analyse('no-syn-data')
    expect(flows).to.have.length(1)
    expect(flows[0]).to.include({ sawSyn: false })
    expect(flows[0]!.initiator).to.deep.equal(A)
    expect(flows[0]!.initiatorToResponder.startKnown).to.equal(false)
    expect(flows[0]!.responderToInitiator.bytes).to.equal(bData.length)
  })
})
