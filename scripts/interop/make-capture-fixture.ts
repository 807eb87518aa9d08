/**
 * Regenerates test-fixtures/interop/loopback-handshake.pcap: a real tcpdump capture (Linux `lo`,
 * DLT_EN10MB) of one loopback TCP connection between two Node sockets, whose contents are
 * deterministic, plus loopback-handshake.json describing what the parser must find in it.
 *
 *   node --import tsx scripts/interop/make-capture-fixture.ts      (needs tcpdump and root/CAP_NET_RAW)
 */
import net from 'node:net'
import { createHash } from 'node:crypto'
import { copyFile, writeFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCapture } from './capture.js'
import { analyseCapture, BT_HANDSHAKE_PREFIX } from './flows.js'

const here = dirname(fileURLToPath(import.meta.url))
export const FIXTURE_DIR = join(here, '..', '..', 'test-fixtures', 'interop')
export const FIXTURE_PCAP = join(FIXTURE_DIR, 'loopback-handshake.pcap')
export const FIXTURE_JSON = join(FIXTURE_DIR, 'loopback-handshake.json')

/** Deterministic pseudo-random bytes (SHA-256 in counter mode). */
export function detBytes (label: string, n: number): Buffer {
  const out: Buffer[] = []
  for (let i = 0; out.length * 32 < n; i++) out.push(createHash('sha256').update(`${label}/${i}`).digest())
  return Buffer.concat(out).subarray(0, n)
}

/** What the initiator sends: a plaintext BitTorrent handshake, then 500 opaque bytes. */
export function fixtureInitiatorBytes (): Buffer {
  const infoHash = createHash('sha1').update('mse interop fixture').digest()
  const peerId = Buffer.from('-FX0001-abcdefghijkl', 'latin1')
  return Buffer.concat([BT_HANDSHAKE_PREFIX, Buffer.alloc(8), infoHash, peerId, detBytes('fixture-a', 500)])
}

/** What the responder sends: 1000 opaque bytes. */
export function fixtureResponderBytes (): Buffer {
  return detBytes('fixture-b', 1000)
}

async function main (): Promise<void> {
  const aBytes = fixtureInitiatorBytes()
  const bBytes = fixtureResponderBytes()
  const server = net.createServer((c) => {
    c.resume()
    c.on('end', () => c.end())
    c.write(bBytes)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const cap = await startCapture({ ports: [port] })
  const c = net.connect(port, '127.0.0.1')
  await new Promise((resolve) => c.once('connect', resolve))
  c.end(aBytes)
  c.resume()
  await new Promise((resolve) => c.once('close', resolve))
  await cap.stop()
  await mkdir(FIXTURE_DIR, { recursive: true })
  await copyFile(cap.file, FIXTURE_PCAP)
  cap.dispose()
  server.close()
  const a = await analyseCapture(FIXTURE_PCAP, [port])
  const f = a.flows[0]!
  const expect = {
    about: 'Expected analysis of loopback-handshake.pcap (see scripts/interop/make-capture-fixture.ts)',
    serverPort: port,
    clientPort: f.initiator.port,
    initiatorToResponder: { bytes: aBytes.length, sha256: createHash('sha256').update(aBytes).digest('hex') },
    responderToInitiator: { bytes: bBytes.length, sha256: createHash('sha256').update(bBytes).digest('hex') },
  }
  await writeFile(FIXTURE_JSON, JSON.stringify(expect, null, 2) + '\n')
  console.log(`wrote ${FIXTURE_PCAP} (${a.packets} packets) and ${FIXTURE_JSON}`)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main()
}
