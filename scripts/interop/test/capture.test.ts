import { expect } from 'chai'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  analyseCapture, analysePackets, parsePcap, decodeTcp, startCapture, captureFilter, describeFlows,
  LINKTYPE, BT_HANDSHAKE_PREFIX, type FlowRecord,
} from '../capture.js'
import { buildPcap, buildPcapng, connection, type SynthSegment } from './pcap-builder.js'
import { FIXTURE_PCAP, FIXTURE_JSON, fixtureInitiatorBytes, fixtureResponderBytes } from '../make-capture-fixture.js'
import { requirePeers } from '../availability.js'
import { makeTempDir, removeDir, runQuick, which, runningPids } from '../peers/common.js'

const A = { ip: '127.0.0.1', port: 40001 }
const B = { ip: '127.0.0.2', port: 6881 }
const handshake = (): Buffer => Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(48, 7)])
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

function analyse(segs: SynthSegment[], opts: { linkType?: number; ports?: number[] } = {}): FlowRecord[] {
  const packets = parsePcap(buildPcap(segs, { linkType: opts.linkType }))
  return analysePackets(packets, opts.ports, { keepPayload: true }).flows
}

describe('capture: pcap parsing and TCP reassembly (synthetic captures)', function () {
  const aData = Buffer.concat([handshake(), randomBytes(1500)])
  const bData = randomBytes(2300)

  for (const [name, linkType] of [
    ['EN10MB (Linux lo)', LINKTYPE.EN10MB],
    ['LINUX_SLL', LINKTYPE.LINUX_SLL],
    ['LINUX_SLL2', LINKTYPE.LINUX_SLL2],
    ['NULL (BSD loopback)', LINKTYPE.NULL],
    ['RAW IP', LINKTYPE.RAW],
  ] as const) {
    it(`reassembles both directions of a connection, link type ${name}`, function () {
      const c = connection(A, B, aData, bData)
      const flows = analyse([...c.syn, ...c.aSegs, ...c.bSegs, ...c.fin], { linkType })
      expect(flows).to.have.length(1)
      const f = flows[0]!
      expect(f.initiator).to.deep.equal(A)
      expect(f.responder).to.deep.equal(B)
      expect(f.sawSyn).to.equal(true)
      expect(f.closedBy).to.equal('fin')
      expect(f.payload!.initiatorToResponder.equals(aData)).to.equal(true)
      expect(f.payload!.responderToInitiator.equals(bData)).to.equal(true)
      expect(f.initiatorToResponder.bytes).to.equal(aData.length)
      expect(f.responderToInitiator.bytes).to.equal(bData.length)
      expect(f.initiatorToResponder.startsWithBtHandshake).to.equal(true)
      expect(f.responderToInitiator.startsWithBtHandshake).to.equal(false)
      expect(f.kind).to.equal('plaintext')
    })
  }

  it('reads big-endian and nanosecond pcap, and pcapng', function () {
    const c = connection(A, B, aData, bData)
    const segs = [...c.syn, ...c.aSegs, ...c.bSegs, ...c.fin]
    for (const buf of [
      buildPcap(segs, { littleEndian: false }),
      buildPcap(segs, { nanos: true }),
      buildPcap(segs, { nanos: true, littleEndian: false }),
      buildPcapng(segs),
      buildPcapng(segs, LINKTYPE.LINUX_SLL),
    ]) {
      const packets = parsePcap(buf)
      expect(packets).to.have.length(segs.length)
      expect(packets[0]!.ts).to.be.closeTo(1700000000, 0.01)
      const { flows } = analysePackets(packets, undefined, { keepPayload: true })
      expect(flows).to.have.length(1)
      expect(flows[0]!.payload!.initiatorToResponder.equals(aData)).to.equal(true)
      expect(flows[0]!.payload!.responderToInitiator.equals(bData)).to.equal(true)
    }
  })

  it('handles IPv6', function () {
    const c = connection({ ip: '::1', port: 5000 }, { ip: '::1', port: 6881 }, aData, bData)
    const flows = analyse([...c.syn, ...c.aSegs, ...c.bSegs, ...c.fin])
    expect(flows).to.have.length(1)
    expect(flows[0]!.initiator).to.deep.equal({ ip: '::1', port: 5000 })
    expect(flows[0]!.payload!.initiatorToResponder.equals(aData)).to.equal(true)
  })

  it('orders by sequence number, drops retransmits and overlaps', function () {
    const c = connection(A, B, aData, bData)
    const a = c.aSegs
    // reverse order, every third segment retransmitted, plus one overlapping segment
    const overlap: SynthSegment = { ...a[1]!, seq: a[1]!.seq + 50, payload: aData.subarray(150, 250) }
    const shuffled = [...a].reverse().flatMap((s, i) => (i % 3 === 0 ? [s, s] : [s]))
    const flows = analyse([...c.syn, ...shuffled, overlap, ...c.bSegs.reverse(), ...c.fin])
    const f = flows[0]!
    expect(f.payload!.initiatorToResponder.equals(aData)).to.equal(true)
    expect(f.payload!.responderToInitiator.equals(bData)).to.equal(true)
    expect(f.initiatorToResponder.duplicateBytes).to.be.greaterThan(0)
    expect(f.initiatorToResponder.holes).to.equal(0)
  })

  it('copes with sequence numbers wrapping around 2^32', function () {
    const c = connection(A, B, aData, bData, { isnA: 0xffffff00, isnB: 0xfffffff0 })
    const flows = analyse([...c.syn, ...c.aSegs.reverse(), ...c.bSegs, ...c.fin])
    expect(flows[0]!.payload!.initiatorToResponder.equals(aData)).to.equal(true)
    expect(flows[0]!.payload!.responderToInitiator.equals(bData)).to.equal(true)
  })

  it('counts holes (lost segments) instead of splicing silently', function () {
    const c = connection(A, B, aData, bData)
    const missing = c.aSegs.filter((_, i) => i !== 3)
    const f = analyse([...c.syn, ...missing, ...c.bSegs, ...c.fin])[0]!
    expect(f.initiatorToResponder.holes).to.equal(1)
    expect(f.initiatorToResponder.bytes).to.equal(aData.length - 100)
  })

  it('without the SYN, starts from the lowest sequence number and says the start is unknown', function () {
    const c = connection(A, B, aData, bData)
    const f = analyse([...c.aSegs.slice(1), ...c.bSegs])[0]!
    expect(f.sawSyn).to.equal(false)
    expect(f.initiatorToResponder.startKnown).to.equal(false)
    expect(f.payload!.initiatorToResponder.equals(aData.subarray(100))).to.equal(true)
  })

  it('classifies flows: plaintext, mse-plaintext, encrypted, empty', function () {
    const mk = (port: number, a: Buffer, b: Buffer, isn: number): SynthSegment[] => {
      const c = connection({ ip: '127.0.0.1', port }, B, a, b, { isnA: isn, isnB: isn + 7 })
      return [...c.syn, ...c.aSegs, ...c.bSegs, ...c.fin]
    }
    // MSE that selected plaintext: opaque key exchange, then a cleartext handshake further in.
    const msePlain = Buffer.concat([randomBytes(400), handshake()])
    const flows = analyse([
      ...mk(50001, handshake(), handshake(), 1),
      ...mk(50002, randomBytes(600), msePlain, 100000),
      ...mk(50003, randomBytes(600), randomBytes(900), 200000),
      ...mk(50004, Buffer.alloc(0), Buffer.alloc(0), 300000),
    ])
    expect(flows.map((f) => f.kind)).to.deep.equal(['plaintext', 'mse-plaintext', 'encrypted', 'empty'])
    expect(flows[1]!.responderToInitiator.btProtocolOffset).to.equal(401)
    expect(describeFlows(flows)).to.include('mse-plaintext')
  })

  it('filters by port and separates connections that reuse a 4-tuple', function () {
    const c1 = connection(A, B, aData, bData, { isnA: 10, isnB: 20 })
    const c2 = connection(A, B, randomBytes(300), randomBytes(300), { isnA: 900000, isnB: 800000 })
    const other = connection({ ip: '127.0.0.1', port: 40002 }, { ip: '127.0.0.1', port: 7000 }, aData, bData)
    const all = [...c1.syn, ...c1.aSegs, ...c1.bSegs, ...c1.fin, ...other.syn, ...other.aSegs,
      ...c2.syn, ...c2.aSegs, ...c2.bSegs, ...c2.fin]
    const flows = analyse(all, { ports: [6881] })
    expect(flows).to.have.length(2)
    expect(flows[0]!.initiatorToResponder.bytes).to.equal(aData.length)
    expect(flows[1]!.initiatorToResponder.bytes).to.equal(300)
    expect(analyse(all)).to.have.length(3)
  })

  it('decodes TCP header fields', function () {
    const p = parsePcap(buildPcap([{ ...A, src: A.ip, dst: B.ip, srcPort: A.port, dstPort: B.port, seq: 42, ack: 7, flags: { syn: true, ack: true }, payload: Buffer.from('x') }]))[0]!
    const s = decodeTcp(p)!
    expect(s).to.include({ src: '127.0.0.1', dst: '127.0.0.2', srcPort: 40001, dstPort: 6881, seq: 42, ack: 7, truncated: false })
    expect(s.flags).to.deep.equal({ syn: true, ack: true, fin: false, rst: false, psh: false })
    expect(s.payload.toString()).to.equal('x')
  })

  it('builds tcpdump filters from ports', function () {
    expect(captureFilter([6881, 51413, 6881])).to.equal('tcp and (port 6881 or port 51413)')
    expect(captureFilter([])).to.equal('tcp')
    expect(() => captureFilter([70000])).to.throw()
  })
})

describe('capture: committed fixture (a real tcpdump capture on lo)', function () {
  it('parses test-fixtures/interop/loopback-handshake.pcap as expected', async function () {
    const expected = JSON.parse(await readFile(FIXTURE_JSON, 'utf8')) as {
      serverPort: number
      clientPort: number
      initiatorToResponder: { bytes: number; sha256: string }
      responderToInitiator: { bytes: number; sha256: string }
    }
    const a = await analyseCapture(FIXTURE_PCAP, [expected.serverPort], { keepPayload: true })
    expect(a.linkTypes).to.deep.equal([LINKTYPE.EN10MB])
    expect(a.flows).to.have.length(1)
    const f = a.flows[0]!
    expect(f.initiator).to.deep.equal({ ip: '127.0.0.1', port: expected.clientPort })
    expect(f.responder).to.deep.equal({ ip: '127.0.0.1', port: expected.serverPort })
    expect(f.initiatorToResponder.bytes).to.equal(expected.initiatorToResponder.bytes)
    expect(sha(f.payload!.initiatorToResponder)).to.equal(expected.initiatorToResponder.sha256)
    expect(sha(f.payload!.responderToInitiator)).to.equal(expected.responderToInitiator.sha256)
    // and the generator's byte sources still agree with the committed capture
    expect(f.payload!.initiatorToResponder.equals(fixtureInitiatorBytes())).to.equal(true)
    expect(f.payload!.responderToInitiator.equals(fixtureResponderBytes())).to.equal(true)
    expect(f.kind).to.equal('plaintext')
    expect(f.initiatorToResponder.startsWithBtHandshake).to.equal(true)
    expect(f.responderToInitiator.containsBtProtocol).to.equal(false)
  })
})

describe('capture: live tcpdump on lo', function () {
  let dir = ''
  before(async function () {
    await requirePeers(this, 'tcpdump')
    dir = makeTempDir('captest')
  })
  after(function () {
    removeDir(dir)
  })

  it('captures two node sockets and finds the handshake, byte-exact both ways', async function () {
    const aBytes = Buffer.concat([handshake(), randomBytes(300000)])
    const bBytes = randomBytes(200000)
    const server = net.createServer((c) => {
      c.resume()
      c.on('end', () => c.end())
      c.write(bBytes)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    const file = join(dir, 'live.pcap')
    const cap = await startCapture({ ports: [port], file })
    expect(cap.pid).to.be.a('number')
    try {
      const c = net.connect(port, '127.0.0.1')
      await new Promise((r) => c.once('connect', r))
      c.end(aBytes)
      c.resume()
      await new Promise((r) => c.once('close', r))
      // a second, opaque connection
      const c2 = net.connect(port, '127.0.0.1')
      await new Promise((r) => c2.once('connect', r))
      c2.end(randomBytes(5000))
      c2.resume()
      await new Promise((r) => c2.once('close', r))
    } finally {
      server.close()
    }
    const a = await cap.stopAndAnalyse({ keepPayload: true })
    expect(runningPids()).to.not.include(cap.pid)
    expect(a.stats?.droppedByKernel ?? 0).to.equal(0)
    expect(a.flows, describeFlows(a.flows)).to.have.length(2)
    const [f1, f2] = a.flows as [FlowRecord, FlowRecord]
    expect(f1.responder.port).to.equal(port)
    expect(f1.payload!.initiatorToResponder.equals(aBytes)).to.equal(true)
    expect(f1.payload!.responderToInitiator.equals(bBytes)).to.equal(true)
    expect(f1.kind).to.equal('plaintext')
    expect(f2.kind).to.equal('encrypted') // opaque both ways
    expect(f2.initiatorToResponder.bytes).to.equal(5000)

    // Cross-check byte counts with tshark when it is installed.
    const tshark = which('tshark')
    if (tshark) {
      const r = runQuick(tshark, ['-r', file, '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'tcp.len'], 30000)
      expect(r.status, r.stderr).to.equal(0)
      const totals = new Map<string, number>()
      for (const line of r.stdout.trim().split('\n')) {
        const [stream, src, len] = line.split('\t')
        const key = `${stream}/${src === String(port) ? 'r2i' : 'i2r'}`
        totals.set(key, (totals.get(key) ?? 0) + Number(len))
      }
      expect(totals.get('0/i2r')).to.equal(f1.initiatorToResponder.bytes)
      expect(totals.get('0/r2i')).to.equal(f1.responderToInitiator.bytes)
      expect(totals.get('1/i2r')).to.equal(f2.initiatorToResponder.bytes)
    }
  })

  it('writes a capture another tool can read, and our parser reads pcapng written by tshark', async function () {
    const tshark = which('tshark')
    if (!tshark) this.skip()
    const ng = join(dir, 'fixture.pcapng')
    const r = runQuick(tshark!, ['-r', FIXTURE_PCAP, '-F', 'pcapng', '-w', ng], 30000)
    expect(r.status, r.stderr).to.equal(0)
    const a = await analyseCapture(ng, undefined, { keepPayload: true })
    expect(a.flows).to.have.length(1)
    expect(a.flows[0]!.payload!.initiatorToResponder.equals(fixtureInitiatorBytes())).to.equal(true)
  })
})
