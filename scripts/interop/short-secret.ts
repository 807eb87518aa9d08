/**
 * The unpadded-secret bug of libtorrent-rasterbar <= 2.0.12 (and rakshasa's libtorrent), measured against
 * Debian's libtorrent: it hashes HASH('req3', S) over S without its leading zero bytes, so it drops every MSE
 * handshake in which S begins with a zero byte (1 in 256 on average).
 *
 * Our client (webtorrent-node, policy `required`, TCP) dials one libtorrent peer (pe_forced, RC4 only) N
 * times, one connection at a time, and counts how each dial ended: once with the unpadded-secret retry off
 * ("before") and once with it on ("after"), each against its own fresh libtorrent, in one run.
 *
 *   node --import tsx --conditions=source scripts/interop/short-secret.ts [--dials 2000] [--retry both|off|on] [--json]
 *
 * Loopback only; DHT, LSD, UPnP, NAT-PMP, PEX and trackers off on both sides. Prints a table (or JSON).
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import WebTorrent, { LOOPBACK_ONLY, type MseStats } from 'webtorrent-node'
import { startLibtorrent, findLibtorrentPython, findLibtorrentVersion } from './peers/libtorrent.js'
import { makeRandomTorrent } from './torrents.js'
import { makeTempDir, removeDir, freePort } from './peers/common.js'
import { until, TimeoutError } from 'test-support'
import { listeningPort, destroyWebTorrent } from './webtorrent-side.js'

interface Run {
  retry: boolean
  dials: number
  /** Dials that ended in a BitTorrent connection (a wire). */
  connected: number
  /** Dials that ended without one. */
  failedDials: number
  /** Dials with no outcome within the per-dial bound. */
  timedOut: number
  /** MSE handshakes made (first attempts and retries). */
  handshakes: number
  /** Failed MSE handshakes, by error code. */
  errors: MseStats['errors']
  unpaddedSecret: MseStats['unpaddedSecret']
  plaintextAttempts: number
  seconds: number
}

const PER_DIAL_BOUND_MS = 15000

async function measure (retry: boolean, dials: number): Promise<Run> {
  const dir = makeTempDir('short-secret')
  const t = await makeRandomTorrent({ dir: join(dir, 'src'), size: 256 * 1024 })
  // Neither side has any piece: a connection is a handshake and two bitfields, then idles until we drop it.
  const peer = await startLibtorrent({ torrent: t, mode: 'download', port: await freePort(), outEnc: 'forced', inEnc: 'forced', level: 'rc4' })
  const client = new WebTorrent({ ...LOOPBACK_ONLY, encryption: 'required', mseUnpaddedSecretRetry: retry })
  try {
    await listeningPort(client as never)
    await until(() => { const s = peer.lastStatus(); return !!s && !/checking/.test(s.state) }, 15000, 'libtorrent torrent to be ready', 20)
    const torrent: any = client.add(t.torrentBuffer, { path: join(dir, 'ours') })
    await until(() => torrent.ready, 15000, 'our torrent to be ready', 10)
    let wires = 0
    torrent.on('wire', () => { wires++ })
    const address = `${peer.address}:${peer.port}`
    const errorTotal = (s: MseStats): number => Object.values(s.errors).reduce((a, b) => a + (b ?? 0), 0)
    let connected = 0
    let failedDials = 0
    let timedOut = 0
    const started = Date.now()
    for (let i = 0; i < dials; i++) {
      const before = client.mseStats
      const wiresBefore = wires
      // A dial has ended when a wire appears, or when a handshake failed that was not retried.
      const unretried = (s: MseStats): number => errorTotal(s) - s.unpaddedSecret.retried
      torrent.addPeer(address)
      try {
        const how = await until(() => {
          if (wires > wiresBefore) return 'connected'
          if (unretried(client.mseStats) > unretried(before)) return 'failed'
          return undefined
        }, PER_DIAL_BOUND_MS, `dial ${i + 1} to end`, 1)
        if (how === 'connected') connected++
        else failedDials++
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err
        timedOut++
      }
      torrent.removePeer(address)
    }
    const seconds = (Date.now() - started) / 1000
    const s = client.mseStats
    return {
      retry,
      dials,
      connected,
      failedDials,
      timedOut,
      handshakes: s.attempts.mse,
      errors: s.errors,
      unpaddedSecret: s.unpaddedSecret,
      plaintextAttempts: s.attempts.plaintext,
      seconds
    }
  } finally {
    await destroyWebTorrent(client as never)
    await peer.stop()
    removeDir(dir)
  }
}

function row (r: Run): string[] {
  const errs = Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'
  return [
    r.retry ? 'on (after)' : 'off (before)',
    String(r.dials),
    String(r.handshakes),
    String(r.connected),
    `${r.failedDials + r.timedOut} (${((r.failedDials + r.timedOut) / r.dials * 100).toFixed(2)}%)`,
    errs,
    `${r.unpaddedSecret.suspected} / ${r.unpaddedSecret.retried}`,
    String(r.plaintextAttempts),
    r.seconds.toFixed(1)
  ]
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      dials: { type: 'string', default: '2000' },
      retry: { type: 'string', default: 'both' },
      json: { type: 'boolean', default: false }
    }
  })
  const dials = Number(values.dials)
  if (!Number.isInteger(dials) || dials < 1 || dials > 1_000_000) throw new Error('--dials must be an integer in 1..1000000')
  const modes = values.retry === 'both' ? [false, true] : values.retry === 'on' ? [true] : values.retry === 'off' ? [false] : undefined
  if (!modes) throw new Error('--retry must be both, on or off')
  if (!findLibtorrentPython()) throw new Error('python3-libtorrent is not installed (bash scripts/install-peers)')
  const runs: Run[] = []
  for (const retry of modes) {
    if (!values.json) process.stderr.write(`retry ${retry ? 'on' : 'off'}: ${dials} dials to libtorrent ${findLibtorrentVersion()}...\n`)
    runs.push(await measure(retry, dials))
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ libtorrent: findLibtorrentVersion(), runs }, null, 2) + '\n')
    return
  }
  const head = ['retry', 'dials', 'MSE handshakes', 'connected', 'dials failed', 'handshake errors', 'unpadded-S suspected / retried', 'plaintext dials', 's']
  const rows = [head, ...runs.map(row)]
  const widths = head.map((_, i) => Math.max(...rows.map(r => r[i]!.length)))
  process.stdout.write(`our client (required, TCP) dialling libtorrent ${findLibtorrentVersion()} (pe_forced, RC4), one dial at a time\n`)
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ') + '\n')
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`short-secret: ${(err as Error).message}\n`)
  process.exit(1)
})
