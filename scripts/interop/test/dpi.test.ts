/**
 * The DPI verdicts on a synthetic capture with two flows to the same listening port: a plaintext
 * BitTorrent connection, then a random-looking (encrypted) one. Both classifiers must call the first
 * BitTorrent and the second not; and nDPI run over the whole capture shows why each flow is classified
 * on its own: its endpoint cache labels the second flow BitTorrent too.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { execFile } from 'node:child_process'
import { analyseCapture, BT_HANDSHAKE_PREFIX } from '../flows.js'
import { dpiVerdicts, findNdpiReader } from '../dpi.js'
import { requirePeers } from '../availability.js'
import { makeTempDir, removeDir } from '../peers/common.js'
import { writeCaptures, connection, type SynthSegment } from './synthetic-capture.js'

const LISTEN = { ip: '127.0.0.1', port: 6881 }
const handshake = (): Buffer => Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(8), randomBytes(40)])
const timed = (segs: SynthSegment[], t0: number): SynthSegment[] => segs.map((s, i) => ({ ...s, ts: t0 + i * 0.01 }))

describe('DPI verdicts (nDPI and tshark) per flow', function () {
  let dir: string
  let file: string
  before(async function () {
    await requirePeers(this, 'dpi', 'tcpdump', 'scapy')
    dir = makeTempDir('dpi-test')
    file = join(dir, 'two-flows.pcap')
    // Unchoke / interested after each handshake, in segments of their own as on the wire.
    const plain = connection({ ip: '127.0.0.1', port: 50001 }, LISTEN,
      Buffer.concat([handshake(), Buffer.from([0, 0, 0, 1, 2])]), Buffer.concat([handshake(), Buffer.from([0, 0, 0, 1, 1])]), { chunk: 68 })
    const encrypted = connection({ ip: '127.0.0.1', port: 50002 }, LISTEN, randomBytes(700), randomBytes(500), { chunk: 300 })
    writeCaptures([{
      file,
      segs: [
        ...timed([...plain.syn, ...plain.aSegs, ...plain.bSegs, ...plain.fin], 1_700_000_000),
        ...timed([...encrypted.syn, ...encrypted.aSegs, ...encrypted.bSegs, ...encrypted.fin], 1_700_000_001),
      ],
    }])
  })
  after(() => { if (dir) removeDir(dir) })

  it('the plaintext flow is BitTorrent for both, the random one for neither', async () => {
    const { flows } = await analyseCapture(file)
    expect(flows.map((f) => f.kind)).to.deep.equal(['plaintext', 'encrypted'])
    const verdicts = await dpiVerdicts(file, flows, [LISTEN.port])
    expect(verdicts.get(flows[0]!.index)).to.deep.equal({ ndpi: 'BitTorrent', ndpiBitTorrent: true, tsharkBitTorrent: true })
    expect(verdicts.get(flows[1]!.index)).to.deep.equal({ ndpi: 'Unknown', ndpiBitTorrent: false, tsharkBitTorrent: false })
  })

  it('nDPI over the whole capture labels the random flow BitTorrent from its endpoint cache (why flows are split)', async () => {
    const { stdout } = await promisify(execFile)(findNdpiReader()!, ['-i', file, '-v', '2'])
    const random = stdout.split('\n').find((line) => line.includes(':50002 '))
    expect(random, stdout).to.match(/\[proto: [\d.]+\/BitTorrent\]/)
    expect(random).to.include('Confidence: DPI (cache)')
  })
})
