/**
 * A real ctorrent peer (Enhanced CTorrent dnh3.3.2 on Debian 12): speaks no MSE at all, so it is
 * the plaintext-only peer of the suite.
 *
 * Quirks:
 * - It drops every peer that shares its own IP address, so it listens on 127.0.0.2 by default (`-i`)
 *   while our client uses 127.0.0.1. (A connection from 127.0.0.1 to 127.0.0.2 leaves from 127.0.0.1.)
 * - It refuses a metainfo file without `announce` ("initial meta info failed"). The driver writes its
 *   own copy of the .torrent with `announce` pointing at a stub tracker it runs on 127.0.0.1 (the info
 *   dictionary, hence the info hash, is untouched). The stub answers with no peers, or with the peers
 *   given in `trackerPeers`, which is the only way to make ctorrent dial someone.
 * - It has no switch for DHT/PEX/LSD/UPnP because it implements none of them.
 * - SIGTERM: it lingers up to ~15 s to send a final event=stopped announce, so stop() escalates to
 *   SIGKILL after 1.5 s.
 */
import http from 'node:http'
import { join } from 'node:path'
import { readFile, writeFile, stat } from 'node:fs/promises'
import {
  type PeerHandle, type TorrentSpec, type ManagedProcess, startProcess, makePeerDirs, removeDir, assertLoopback, freePort, which, isListening, toEndpoint,
} from './common.js'
import { until, TimeoutError } from 'test-support'

export interface CtorrentOptions {
  torrent: TorrentSpec
  mode: 'seed' | 'download'
  seedFrom?: string
  /** Listen address, default 127.0.0.2 (see the quirk above). */
  address?: string
  port?: number
  /** Peers the stub tracker hands out (ctorrent dials them). Default none. */
  trackerPeers?: Array<string | { address: string; port: number }>
  startTimeoutMs?: number
  /** ctorrent -v (debug lines on stderr, kept in logTail). */
  verbose?: boolean
}

export interface CtorrentHandle extends PeerHandle {
  readonly kind: 'ctorrent'
  /** Number of announces the stub tracker answered. */
  announces(): number
  /** Latest "[have/total/avail]" triple from ctorrent's status line. */
  pieces(): { have: number; total: number; avail: number } | undefined
}

export function findCtorrent (): string | undefined {
  return which('ctorrent')
}

/** A copy of a bencoded torrent with a top-level `announce` key added (no other change). */
export function withAnnounce (torrent: Buffer, url: string): Buffer {
  if (torrent[0] !== 0x64 /* d */) throw new Error('not a bencoded dictionary')
  if (torrent.includes(Buffer.from('8:announce'))) {
    // Already has one (or an announce-list): leave it; ctorrent will use it.
    return torrent
  }
  // Dictionary keys are sorted; "announce" sorts before every key create-torrent writes
  // ("comment", "created by", "creation date", "encoding", "info", "url-list").
  const key = Buffer.from(`8:announce${Buffer.byteLength(url)}:${url}`)
  return Buffer.concat([torrent.subarray(0, 1), key, torrent.subarray(1)])
}

function compactPeers (peers: Array<{ address: string; port: number }>): Buffer {
  const out = Buffer.alloc(peers.length * 6)
  peers.forEach((p, i) => {
    p.address.split('.').forEach((o, j) => out.writeUInt8(Number(o), i * 6 + j))
    out.writeUInt16BE(p.port, i * 6 + 4)
  })
  return out
}

/**
 * The smallest tracker that satisfies ctorrent. With peers to hand out it answers a normal
 * announce reply (interval + compact peers). Without, it answers a "failure reason": ctorrent
 * carries on serving incoming peers either way, but after a *successful* announce it delays its
 * exit on SIGTERM by ~12-15 s (it waits out its minimum re-announce time to send event=stopped),
 * while after a failed one it exits at once.
 */
async function startStubTracker (peers: Array<{ address: string; port: number }>): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let count = 0
  const server = http.createServer((req, res) => {
    count++
    const list = compactPeers(peers)
    const body = peers.length
      ? Buffer.concat([Buffer.from(`d8:intervali30e12:min intervali10e5:peers${list.length}:`), list, Buffer.from('e')])
      : Buffer.from('d14:failure reason30:stub tracker: no peers to givee')
    // ctorrent reads the reply until EOF: close the connection after it.
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, connection: 'close' })
    res.end(body)
    req.resume()
  })
  const port = await freePort('127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  server.unref()
  return {
    url: `http://127.0.0.1:${port}/announce`,
    count: () => count,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

/** ctorrent's command line: bound to `address`, exits 1 h after completion, and touches `doneMarker` on completion. */
function ctorrentArgs (opts: CtorrentOptions, at: { address: string; port: number; dir: string; downloadDir: string; doneMarker: string; torrentCopy: string }): string[] {
  return [
    '-i', at.address,
    '-p', String(at.port),
    '-s', join(at.downloadDir, opts.torrent.name),
    '-b', join(at.dir, 'bitfield'),
    '-e', '1', // exit 1 h after completion: a bound, we stop it far earlier
    '-M', '20',
    ...(opts.verbose ? ['-v'] : []),
    // Run on completion. ctorrent passes it to the shell; the path is ours and has no spaces.
    '-X', `touch ${at.doneMarker}`,
    at.torrentCopy,
  ]
}

/** What ctorrent prints: its listen line, the end of its piece check, its piece counts. */
class CtorrentOutput {
  listeningLine = false
  checked = false
  pieces: { have: number; total: number; avail: number } | undefined

  constructor (proc: ManagedProcess) {
    proc.onStdoutLine((line) => {
      if (/Listening on /.test(line)) this.listeningLine = true
      if (/Checking completed/.test(line)) this.checked = true
      const m = /\[(\d+)\/(\d+)\/(\d+)\]/.exec(line)
      if (m) this.pieces = { have: Number(m[1]), total: Number(m[2]), avail: Number(m[3]) }
    })
  }

  /** A downloader is complete when its completion hook ran, or when it has every piece and checked them. */
  async isComplete (mode: 'seed' | 'download', doneMarker: string): Promise<boolean> {
    if (mode === 'seed') return true
    try {
      await stat(doneMarker)
      return true
    } catch {
      return !!this.pieces && this.pieces.total > 0 && this.pieces.have === this.pieces.total && this.checked
    }
  }
}

/** ctorrent said it listens (and, seeding, checked its pieces), and its port accepts connections. */
async function untilListening (proc: ManagedProcess, out: CtorrentOutput, mode: 'seed' | 'download', at: { address: string; port: number }, left: () => number): Promise<void> {
  const dead = (): Error => new Error(`ctorrent exited\n${proc.tail()}`)
  await until(() => {
    if (proc.hasExited()) throw dead()
    return out.listeningLine && (out.checked || mode === 'download')
  }, left(), 'ctorrent to listen (and check its pieces)', 50)
  await until(async () => {
    if (proc.hasExited()) throw dead()
    return (await isListening(at.address, at.port)) !== false
  }, left(), `ctorrent to listen on ${at.address}:${at.port}`, 50)
}

export async function startCtorrent (opts: CtorrentOptions): Promise<CtorrentHandle> {
  const bin = findCtorrent()
  if (!bin) throw new Error('ctorrent not found (install ctorrent: scripts/install-peers)')
  const address = opts.address ?? '127.0.0.2'
  assertLoopback(address)
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20000)
  const left = (): number => Math.max(1, deadline - Date.now())

  const { dir, downloadDir } = await makePeerDirs('ct', 'ctorrent', opts)
  const tracker = await startStubTracker((opts.trackerPeers ?? []).map(toEndpoint))
  const torrentCopy = join(dir, 'ctorrent.torrent')
  await writeFile(torrentCopy, withAnnounce(await readFile(opts.torrent.torrentPath), tracker.url))
  const port = opts.port ?? (await freePort(address))
  const doneMarker = join(dir, 'complete.marker')
  const proc = startProcess(bin, ctorrentArgs(opts, { address, port, dir, downloadDir, doneMarker, torrentCopy }), { label: `ct:${opts.mode}`, cwd: dir })
  const out = new CtorrentOutput(proc)
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    try {
      // On SIGTERM ctorrent waits out its minimum re-announce time (~15 s after the last announce)
      // to send event=stopped whenever it has something to report (a successful announce, or any
      // bytes transferred); only an idle ctorrent whose tracker failed exits at once. None of its
      // state matters to us, so the bound before SIGKILL is short.
      await proc.stop('SIGTERM', 1500)
    } finally {
      await tracker.close()
      removeDir(dir)
    }
  }
  try {
    await untilListening(proc, out, opts.mode, { address, port }, left)
  } catch (err) {
    const tail = proc.tail(30)
    await stop()
    if (err instanceof Error) err.message += `\n${tail}`
    throw err
  }

  return {
    kind: 'ctorrent',
    pid: proc.pid,
    address,
    port,
    dir,
    downloadDir,
    async waitForComplete (timeoutMs: number): Promise<void> {
      await until(async () => {
        if (await out.isComplete(opts.mode, doneMarker)) return true
        if (proc.hasExited()) throw new Error(`ctorrent exited\n${proc.tail()}`)
        return false
      }, timeoutMs, 'ctorrent download to complete', 100).catch((err: unknown) => {
        if (err instanceof TimeoutError) err.message += `\n${proc.tail(20)}`
        throw err
      })
    },
    contentPath: (rel?: string) => (rel ? join(downloadDir, opts.torrent.name, rel) : join(downloadDir, opts.torrent.name)),
    logTail: (n?: number) => proc.tail(n),
    announces: tracker.count,
    pieces: () => out.pieces,
    stop,
  }
}
