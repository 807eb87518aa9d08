import { expect } from 'chai'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startCapture, captureFilter } from '../capture.js'
import { analyseCapture, describeFlows, BT_HANDSHAKE_PREFIX, type FlowRecord } from '../flows.js'
import { tsharkFields } from '../tshark.js'
import { writeCaptures, connection, type SynthCapture, type SynthSegment } from './synthetic-capture.js'
import { FIXTURE_PCAP, FIXTURE_JSON, fixtureInitiatorBytes, fixtureResponderBytes } from '../make-capture-fixture.js'
import { requirePeers } from '../availability.js'
import { makeTempDir, removeDir, runQuick, which, runningPids } from '../peers/common.js'

const A = { ip: '127.0.0.1', port: 40001 }
const B = { ip: '127.0.0.2', port: 6881 }
const handshake = (): Buffer => Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(48, 7)])
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

describe('capture: TCP flows read by tshark (synthetic captures)', function () {
  const aData = Buffer.concat([handshake(), randomBytes(1500)])
  const bData = randomBytes(2300)
  const whole = (c: ReturnType<typeof connection>): SynthSegment[] => [...c.syn, ...c.aSegs, ...c.bSegs, ...c.fin]
  const LINKS = [
    ['EN10MB (Linux lo)', 'EN10MB'],
    ['LINUX_SLL', 'LINUX_SLL'],
    ['LINUX_SLL2', 'LINUX_SLL2'],
    ['NULL (BSD loopback)', 'NULL'],
    ['RAW IP', 'RAW'],
  ] as const
  const FORMATS = [
    { bigEndian: true },
    { nanos: true },
    { nanos: true, bigEndian: true },
    { format: 'pcapng' },
    { format: 'pcapng', link: 'LINUX_SLL' },
  ] as const
  // Every capture is written in one scapy run (it takes a second or two to load), then each test reads its own.
  const captures = new Map<string, SynthCapture>()
  let dir = ''
  const add = (name: string, segs: SynthSegment[], format: Omit<SynthCapture, 'file' | 'segs'> = {}): void => {
    captures.set(name, { file: join(dir, `${name}.pcap`), segs, ...format })
  }
  const file = (name: string): string => captures.get(name)!.file
  const analyse = async (name: string, ports?: number[]): Promise<FlowRecord[]> =>
    (await analyseCapture(file(name), ports, { keepPayload: true })).flows

  // What the tests below read, built before them so that one scapy run writes it all.
  const c = connection(A, B, aData, bData)
  const a = c.aSegs
  const overlap: SynthSegment = { ...a[1]!, seq: a[1]!.seq! + 50, payload: aData.subarray(150, 250) }
  const classified = (port: number, x: Buffer, y: Buffer, isn: number): SynthSegment[] =>
    whole(connection({ ip: '127.0.0.1', port }, B, x, y, { isnA: isn, isnB: isn + 7 }))
  // MSE that selected plaintext: opaque key exchange, then a cleartext handshake further in.
  const msePlain = Buffer.concat([randomBytes(400), handshake()])
  const c1 = connection(A, B, aData, bData, { isnA: 10, isnB: 20 })
  const c2 = connection(A, B, randomBytes(300), randomBytes(300), { isnA: 900000, isnB: 800000 })
  const other = connection({ ip: '127.0.0.1', port: 40002 }, { ip: '127.0.0.1', port: 7000 }, aData, bData)

  before(async function () {
    await requirePeers(this, 'tshark', 'scapy')
    dir = makeTempDir('synthcap')
    for (const [, link] of LINKS) add(`link-${link}`, whole(c), { link })
    FORMATS.forEach((f, i) => add(`format-${i}`, whole(c), f))
    add('ipv6', whole(connection({ ip: '::1', port: 5000 }, { ip: '::1', port: 6881 }, aData, bData)))
    // reverse order, every third segment retransmitted, plus one overlapping segment
    add('retransmits', [...c.syn, ...[...a].reverse().flatMap((s, i) => (i % 3 === 0 ? [s, s] : [s])), overlap, ...[...c.bSegs].reverse(), ...c.fin])
    const wrap = connection(A, B, aData, bData, { isnA: 0xffffff00, isnB: 0xfffffff0 })
    add('wrap', [...wrap.syn, ...[...wrap.aSegs].reverse(), ...wrap.bSegs, ...wrap.fin])
    add('hole', [...c.syn, ...c.aSegs.filter((_, i) => i !== 3), ...c.bSegs, ...c.fin])
    add('no-syn', [...c.aSegs.slice(1), ...c.bSegs])
    add('syn-ack-first', [{ src: B.ip, dst: A.ip, srcPort: B.port, dstPort: A.port, seq: 42, ack: 7, flags: { syn: true, ack: true } },
      { src: B.ip, dst: A.ip, srcPort: B.port, dstPort: A.port, seq: 43, ack: 7, flags: { ack: true, psh: true }, payload: Buffer.from('x') }])
    add('kinds', [
      ...classified(50001, handshake(), handshake(), 1),
      ...classified(50002, randomBytes(600), msePlain, 100000),
      ...classified(50003, randomBytes(600), randomBytes(900), 200000),
      ...classified(50004, Buffer.alloc(0), Buffer.alloc(0), 300000),
    ])
    add('reuse', [...whole(c1), ...other.syn, ...other.aSegs, ...whole(c2)])
    writeCaptures([...captures.values()])
  })
  after(function () {
    if (dir) removeDir(dir)
  })

  for (const [name, link] of LINKS) {
    it(`reassembles both directions of a connection, link type ${name}`, async function () {
      const flows = await analyse(`link-${link}`)
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

  it('reads big-endian and nanosecond pcap, and pcapng', async function () {
    for (let i = 0; i < FORMATS.length; i++) {
      const a = await analyseCapture(file(`format-${i}`), undefined, { keepPayload: true })
      expect(a.packets, JSON.stringify(FORMATS[i])).to.equal(whole(c).length)
      expect(a.flows).to.have.length(1)
      expect(a.flows[0]!.firstTs).to.be.closeTo(1700000000, 0.01)
      expect(a.flows[0]!.payload!.initiatorToResponder.equals(aData)).to.equal(true)
      expect(a.flows[0]!.payload!.responderToInitiator.equals(bData)).to.equal(true)
    }
  })

  it('handles IPv6', async function () {
    const flows = await analyse('ipv6')
    expect(flows).to.have.length(1)
    expect(flows[0]!.initiator).to.deep.equal({ ip: '::1', port: 5000 })
    expect(flows[0]!.payload!.initiatorToResponder.equals(aData)).to.equal(true)
  })

  it('orders by sequence number, drops retransmits and overlaps', async function () {
    const f = (await analyse('retransmits'))[0]!
    expect(f.payload!.initiatorToResponder.equals(aData)).to.equal(true)
    expect(f.payload!.responderToInitiator.equals(bData)).to.equal(true)
    expect(f.initiatorToResponder.duplicateBytes).to.be.greaterThan(0)
    expect(f.initiatorToResponder.holes).to.equal(0)
  })

  it('copes with sequence numbers wrapping around 2^32', async function () {
    const flows = await analyse('wrap')
    expect(flows[0]!.payload!.initiatorToResponder.equals(aData)).to.equal(true)
    expect(flows[0]!.payload!.responderToInitiator.equals(bData)).to.equal(true)
  })

  it('counts holes (lost segments) instead of splicing silently', async function () {
    const f = (await analyse('hole'))[0]!
    expect(f.initiatorToResponder.holes).to.equal(1)
    expect(f.initiatorToResponder.bytes).to.equal(aData.length - 100)
  })

  it('without the SYN, starts from the lowest sequence number and says the start is unknown', async function () {
    const f = (await analyse('no-syn'))[0]!
    expect(f.sawSyn).to.equal(false)
    expect(f.initiatorToResponder.startKnown).to.equal(false)
    expect(f.payload!.initiatorToResponder.equals(aData.subarray(100))).to.equal(true)
  })

  it('takes the receiver of a SYN-ACK for the initiator, with addresses, ports and payload', async function () {
    const f = (await analyse('syn-ack-first'))[0]!
    expect(f.initiator).to.deep.equal(A)
    expect(f.responder).to.deep.equal(B)
    expect(f).to.include({ sawSyn: true, closedBy: null })
    expect(f.responderToInitiator).to.include({ startKnown: true, bytes: 1 })
    expect(f.payload!.responderToInitiator.toString()).to.equal('x')
  })

  it('classifies flows: plaintext, mse-plaintext, encrypted, empty', async function () {
    const flows = await analyse('kinds')
    expect(flows.map((f) => f.kind)).to.deep.equal(['plaintext', 'mse-plaintext', 'encrypted', 'empty'])
    expect(flows[1]!.responderToInitiator.btProtocolOffset).to.equal(401)
    expect(describeFlows(flows)).to.include('mse-plaintext')
  })

  it('filters by port and separates connections that reuse a 4-tuple', async function () {
    const flows = await analyse('reuse', [6881, 6999])
    expect(flows).to.have.length(2)
    expect(flows[0]!.initiatorToResponder.bytes).to.equal(aData.length)
    expect(flows[1]!.initiatorToResponder.bytes).to.equal(300)
    expect(await analyse('reuse')).to.have.length(3)
  })

  it('builds tcpdump filters from ports', function () {
    expect(captureFilter([6881, 51413, 6881])).to.equal('tcp and (port 6881 or port 51413)')
    expect(captureFilter([])).to.equal('tcp')
    expect(() => captureFilter([70000])).to.throw()
  })
})

describe('capture: committed fixture (a real tcpdump capture on lo)', function () {
  before(async function () {
    await requirePeers(this, 'tshark')
  })

  it('parses test-fixtures/interop/loopback-handshake.pcap as expected', async function () {
    const expected = JSON.parse(await readFile(FIXTURE_JSON, 'utf8')) as {
      serverPort: number
      clientPort: number
      initiatorToResponder: { bytes: number; sha256: string }
      responderToInitiator: { bytes: number; sha256: string }
    }
    const a = await analyseCapture(FIXTURE_PCAP, [expected.serverPort], { keepPayload: true })
    // Linux lo frames: Ethernet headers (DLT_EN10MB).
    const protocols = await tsharkFields(FIXTURE_PCAP, { fields: ['frame.protocols'] })
    expect([...new Set(protocols.map((r) => r['frame.protocols'].split(':').slice(0, 4).join(':')))]).to.deep.equal(['eth:ethertype:ip:tcp'])
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
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    const file = join(dir, 'live.pcap')
    const cap = await startCapture({ ports: [port], file })
    expect(cap.pid).to.be.a('number')
    try {
      const c = net.connect(port, '127.0.0.1')
      await new Promise((resolve) => c.once('connect', resolve))
      c.end(aBytes)
      c.resume()
      await new Promise((resolve) => c.once('close', resolve))
      // a second, opaque connection
      const c2 = net.connect(port, '127.0.0.1')
      await new Promise((resolve) => c2.once('connect', resolve))
      c2.end(randomBytes(5000))
      c2.resume()
      await new Promise((resolve) => c2.once('close', resolve))
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

    // Cross-check the byte counts with the sequence numbers tshark reads per packet: each direction's stream
    // spans relative sequence numbers 1 .. highest next-sequence-number of a data segment. A retransmitted
    // segment (seen under load) adds its bytes to the wire a second time, never to that span.
    // (A FIN counts one in the next sequence number.)
    const rows = await tsharkFields(file, { fields: ['tcp.stream', 'tcp.srcport', 'tcp.nxtseq', 'tcp.flags.fin'], filter: 'tcp.len > 0' })
    const span = new Map<string, number>()
    for (const r of rows) {
      const key = `${r['tcp.stream']}/${r['tcp.srcport'] === String(port) ? 'r2i' : 'i2r'}`
      span.set(key, Math.max(span.get(key) ?? 0, Number(r['tcp.nxtseq']) - 1 - Number(r['tcp.flags.fin'])))
    }
    expect(span.get('0/i2r')).to.equal(f1.initiatorToResponder.bytes)
    expect(span.get('0/r2i')).to.equal(f1.responderToInitiator.bytes)
    expect(span.get('1/i2r')).to.equal(f2.initiatorToResponder.bytes)
  })

  it('writes a capture another tool can read, and the analysis reads pcapng written by tshark', async function () {
    const tshark = which('tshark')!
    const ng = join(dir, 'fixture.pcapng')
    const r = runQuick(tshark, ['-r', FIXTURE_PCAP, '-F', 'pcapng', '-w', ng], 30000)
    expect(r.status, r.stderr).to.equal(0)
    const a = await analyseCapture(ng, undefined, { keepPayload: true })
    expect(a.flows).to.have.length(1)
    expect(a.flows[0]!.payload!.initiatorToResponder.equals(fixtureInitiatorBytes())).to.equal(true)
  })
})
