/**
 * uTP reassembly (utp.ts) on synthetic datagrams: the uTP flows of the interop suite must be read as
 * faithfully as its TCP flows, or "no plaintext handshake crosses" would mean nothing.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { LINKTYPE, BT_HANDSHAKE_PREFIX, type Packet } from '../capture.js'
import { decodeUtp, utpFlows, UTP_TYPE } from '../utp.js'

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

function utpDatagram(s: Synth): Buffer {
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

let ts = 1
/** An IPv4/UDP packet (raw IP link type) carrying `payload`. */
function udpPacket(from: Ep, to: Ep, payload: Buffer): Packet {
  const udp = Buffer.alloc(8)
  udp.writeUInt16BE(from.port, 0)
  udp.writeUInt16BE(to.port, 2)
  udp.writeUInt16BE(8 + payload.length, 4)
  const ip = Buffer.alloc(20)
  ip[0] = 0x45
  ip.writeUInt16BE(20 + 8 + payload.length, 2)
  ip[8] = 64
  ip[9] = 17
  Buffer.from(from.ip.split('.').map(Number)).copy(ip, 12)
  Buffer.from(to.ip.split('.').map(Number)).copy(ip, 16)
  const data = Buffer.concat([ip, udp, payload])
  return { ts: ts++, linkType: LINKTYPE.RAW, data, origLen: data.length }
}

const packet = (s: Synth): Packet => udpPacket(s.from, s.to, utpDatagram(s))

/** A whole connection: SYN, STATE, each side's data cut into `mtu`-byte ST_DATA packets, FIN. */
function connection(id: number, synSeq: number, stateSeq: number, aData: Buffer, bData: Buffer, mtu = 1000): { syn: Packet[], a: Packet[], b: Packet[], fin: Packet[] } {
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

  it('reassembles both directions of a connection and finds a plaintext handshake in it', function () {
    const c = connection(1000, 500, 9000, aData, bData)
    const flows = utpFlows([...c.syn, ...c.a, ...c.b, ...c.fin], undefined, { keepPayload: true })
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

  it('orders by seq_nr, drops retransmits, and copes with seq_nr wrapping around 2^16', function () {
    const c = connection(7, 65530, 65533, aData, bData, 700)
    const shuffled = [...c.a].reverse()
    const flows = utpFlows([...c.syn, ...shuffled, c.a[2]!, ...c.b, c.b[0]!, ...c.fin], undefined, { keepPayload: true })
    const f = flows[0]!
    expect(f.payload!.initiatorToResponder.equals(aData)).to.equal(true)
    expect(f.payload!.responderToInitiator.equals(bData)).to.equal(true)
    expect(f.initiatorToResponder.duplicateBytes).to.equal(700)
    expect(f.responderToInitiator.duplicateBytes).to.equal(700)
    expect(f.initiatorToResponder.holes + f.responderToInitiator.holes).to.equal(0)
  })

  it('counts a lost packet as a hole, including a lost first packet', function () {
    const c = connection(7, 100, 200, aData, bData)
    const flows = utpFlows([...c.syn, ...c.a.slice(1), ...c.b.filter((_p, i) => i !== 2), ...c.fin])
    expect(flows[0]!.initiatorToResponder.holes).to.equal(1)
    expect(flows[0]!.initiatorToResponder.startsWithBtHandshake).to.equal(false)
    expect(flows[0]!.responderToInitiator.holes).to.equal(1)
  })

  it('skips the extension chain (selective ACK and others) to find the payload', function () {
    const payload = Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(10)])
    const d = utpDatagram({ from: A, to: B, type: UTP_TYPE.DATA, connectionId: 3, seq: 9, payload, extensions: [[1, Buffer.alloc(4, 0xff)], [2, Buffer.alloc(8, 0xee)]] })
    expect(decodeUtp(d)!.payload.equals(payload)).to.equal(true)
    expect(decodeUtp(d.subarray(0, 22)), 'an extension that runs past the datagram').to.equal(undefined)
  })

  it('ignores datagrams that are not uTP (wrong version or type, too short)', function () {
    const bad = [Buffer.from('d1:ad2:id20:'), Buffer.alloc(19), Buffer.concat([Buffer.from([0x02]), Buffer.alloc(25)]), Buffer.concat([Buffer.from([0x51]), Buffer.alloc(25)])]
    for (const b of bad) expect(decodeUtp(b), b.toString('hex')).to.equal(undefined)
    expect(utpFlows(bad.map(b => udpPacket(A, B, b)))).to.have.length(0)
  })

  it('separates two connections on the same port pair by connection id, and classifies each', function () {
    const one = connection(1000, 1, 50, Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(48)]), Buffer.alloc(0))
    const two = connection(4000, 1, 80, randomBytes(900), randomBytes(700))
    const flows = utpFlows([...one.syn, ...two.syn, ...one.a, ...two.a, ...two.b, ...one.fin, ...two.fin])
    expect(flows.map(f => f.kind)).to.deep.equal(['plaintext', 'encrypted'])
    expect(flows[1]!.initiatorToResponder.bytes).to.equal(900)
    expect(flows[1]!.responderToInitiator.bytes).to.equal(700)
  })

  it('filters by port, and without the SYN takes the first sender for the initiator and says the start is unknown', function () {
    const c = connection(1000, 10, 20, aData, bData)
    expect(utpFlows([...c.syn, ...c.a], [1234])).to.have.length(0)
    const flows = utpFlows([...c.a.slice(0, 2), ...c.b])
    expect(flows).to.have.length(1)
    expect(flows[0]).to.include({ sawSyn: false })
    expect(flows[0]!.initiator).to.deep.equal(A)
    expect(flows[0]!.initiatorToResponder.startKnown).to.equal(false)
    expect(flows[0]!.responderToInitiator.bytes).to.equal(bData.length)
  })
})
