/**
 * Where uTP cannot carry MSE's fallback: a peer that closes a uTP connection after our key.
 *
 * Over TCP, a plaintext-only peer (libtorrent pe_disabled) closes the connection on our MSE key and
 * `preferred` redials in plaintext 0.1 s later. Over uTP, libtorrent closes the same way (an ST_FIN, with
 * its close-reason extension), but utp-native, the uTP stack webtorrent uses, never reports that close: no
 * 'end', no 'close', no 'error', and it never acknowledges the FIN (libtorrent sends it again). This script
 * shows it without MSE in the way: a bare utp-native socket writes 197 random bytes (what an MSE key with
 * its pad looks like) to Debian's libtorrent with uTP only and encryption disabled, and reports the
 * socket's events and the uTP packets of a capture.
 *
 *   node --import tsx --conditions=source scripts/interop/utp-close.ts [--wait-ms 4000]
 */
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startLibtorrent, findLibtorrentVersion } from './peers/libtorrent.js'
import { makeRandomTorrent } from './torrents.js'
import { makeTempDir, removeDir, freePort } from './peers/common.js'
import { sleep } from 'test-support'
import { startCapture } from './capture.js'
import { tsharkFields } from './tshark.js'
import { UTP_TYPE } from './utp-flows.js'

const TYPE_NAMES = Object.fromEntries(Object.entries(UTP_TYPE).map(([k, v]) => [v, `ST_${k}`]))

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { 'wait-ms': { type: 'string', default: '4000' } } })
  const waitMs = Number(values['wait-ms'])
  if (!Number.isInteger(waitMs) || waitMs < 100 || waitMs > 60000) throw new Error('--wait-ms must be an integer in 100..60000')
  const utp = createRequire(import.meta.url)('utp-native')
  const dir = makeTempDir('utp-close')
  const t = await makeRandomTorrent({ dir: join(dir, 'src'), size: 64 * 1024 })
  const port = await freePort()
  const cap = await startCapture({ ports: [port], protocols: ['udp'] })
  const peer = await startLibtorrent({ torrent: t, mode: 'seed', seedFrom: t.contentPath, port, outEnc: 'disabled', inEnc: 'disabled', level: 'both', utp: true, noTcp: true })
  const events: string[] = []
  try {
    await peer.waitForComplete(20000)
    const socket = utp.connect(peer.port, peer.address)
    const t0 = Date.now()
    for (const ev of ['connect', 'data', 'end', 'close', 'error']) {
      socket.on(ev, (arg: unknown) => events.push(`${Date.now() - t0} ms: '${ev}'${arg instanceof Error ? ` ${arg.message}` : ''}`))
    }
    socket.write(randomBytes(197))
    await sleep(waitMs)
    socket.destroy()
  } finally {
    await peer.stop()
  }
  await cap.stop()
  const packets = await tsharkFields(cap.file, {
    fields: ['frame.time_relative', 'udp.srcport', 'bt-utp.type', 'bt-utp.seq_nr', 'bt-utp.ack_nr', 'bt-utp.flags', 'bt-utp.len'],
    filter: 'bt-utp',
    utpPorts: [port],
  })
  const lines = packets.map((p) => {
    const who = Number(p['udp.srcport']) === port ? 'libtorrent -> us' : 'us -> libtorrent'
    const extension = Number(p['bt-utp.flags'] || 0)
    const payload = Number(p['bt-utp.len'] || 0)
    return `${(Number(p['frame.time_relative']) * 1000).toFixed(0).padStart(5)} ms  ${who}  ${TYPE_NAMES[Number(p['bt-utp.type'])]} seq_nr ${p['bt-utp.seq_nr']} ack_nr ${p['bt-utp.ack_nr']}` +
      `${extension ? ` extension ${extension}` : ''}${payload ? `, ${payload} payload bytes` : ''}`
  })
  cap.dispose()
  removeDir(dir)
  process.stdout.write(`utp-native socket to libtorrent ${findLibtorrentVersion()} (uTP only, pe_disabled), 197 bytes written, watched ${waitMs} ms\n`)
  process.stdout.write(`socket events:\n  ${events.join('\n  ') || '(none)'}\n`)
  process.stdout.write(`uTP packets in the capture:\n  ${lines.join('\n  ')}\n`)
  const fins = lines.filter(l => l.includes('libtorrent -> us') && l.includes('ST_FIN')).length
  const closed = events.some(e => /'(end|close|error)'/.test(e))
  process.stdout.write(`libtorrent sent ${fins} ST_FIN; the socket ${closed ? 'reported' : 'did NOT report'} the close\n`)
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`utp-close: ${(err as Error).message}\n`)
  process.exit(1)
})
