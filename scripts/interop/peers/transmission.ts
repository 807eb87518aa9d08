/**
 * A real Transmission peer: transmission-daemon (3.00 on Debian 12) in the foreground with its own
 * config dir and a generated settings.json, controlled over its JSON RPC on 127.0.0.1.
 *
 * Quirks (3.00, loopback): it never dials a 127.x peer by itself, so our side must dial it; it
 * accepts incoming connections fine and unchokes on a ~10 s cycle (expect a few seconds of nothing
 * before the first block flows).
 */
import http from 'node:http'
import { join } from 'node:path'
import { mkdir, writeFile, readFile } from 'node:fs/promises'
import {
  type PeerHandle, type TorrentSpec, startProcess, makePeerDirs, removeDir, assertLoopback, freePort, which, runQuick, isListening, type ManagedProcess,
} from './common.js'
import { sleep, until, TimeoutError } from 'test-support'

/** settings.json `encryption`: 0 = tolerated (prefer plaintext), 1 = preferred, 2 = required. */
export type TransmissionEncryption = 0 | 1 | 2

export interface TransmissionOptions {
  torrent: TorrentSpec
  mode: 'seed' | 'download'
  seedFrom?: string
  /** Loopback address for peer connections (bind-address-ipv4), default 127.0.0.1. */
  address?: string
  /** Peer port (default: a free one). */
  port?: number
  /** Default 1 (Transmission's own default). */
  encryption?: TransmissionEncryption
  /** RPC port on 127.0.0.1 (default: a free one). */
  rpcPort?: number
  /** Bound for start-up (daemon up, RPC answering, torrent added and, for a seeder, verified). */
  startTimeoutMs?: number
  /** Extra settings.json keys (override the generated ones). */
  extraSettings?: Record<string, unknown>
}

export interface TrPeer {
  address: string
  port: number
  clientName: string
  flagStr: string
  isEncrypted: boolean
  isIncoming: boolean
  isUTP: boolean
  progress: number
  rateToClient: number
  rateToPeer: number
}

export interface TrTorrent {
  id: number
  hashString: string
  name: string
  status: number
  percentDone: number
  leftUntilDone: number
  haveValid: number
  error: number
  errorString: string
  peersConnected: number
  uploadedEver: number
  downloadedEver: number
  peers: TrPeer[]
}

export interface TransmissionHandle extends PeerHandle {
  readonly kind: 'transmission'
  readonly rpcPort: number
  /** One RPC call ({method, arguments} -> arguments of the reply; throws unless result is "success"). */
  rpc(method: string, args?: Record<string, unknown>): Promise<Record<string, unknown>>
  torrent(): Promise<TrTorrent>
  /** Every peer seen by the background poll (every 500 ms), keyed "address:port", last seen wins. */
  seenPeers(): Map<string, TrPeer>
}

const TORRENT_FIELDS = [
  'id', 'hashString', 'name', 'status', 'percentDone', 'leftUntilDone', 'haveValid', 'error', 'errorString',
  'peersConnected', 'uploadedEver', 'downloadedEver', 'peers',
]

export function findTransmission (): string | undefined {
  return which('transmission-daemon')
}

export function transmissionVersion (): string {
  const bin = findTransmission()
  if (!bin) return ''
  const r = runQuick(bin, ['-V'])
  return (r.stdout + r.stderr).trim().split('\n')[0] ?? ''
}

/** Minimal JSON-RPC client with the X-Transmission-Session-Id dance (409 -> retry with the header). */
class TransmissionRpc {
  private sessionId = ''
  constructor (private readonly port: number, private readonly timeoutMs = 5000) {}

  async call (method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await this.post(JSON.stringify({ method, arguments: args }))
      if (res.status === 409) {
        const id = res.headers['x-transmission-session-id']
        if (typeof id !== 'string' || !id) throw new Error('transmission: 409 without X-Transmission-Session-Id')
        this.sessionId = id
        continue
      }
      if (res.status !== 200) throw new Error(`transmission rpc ${method}: HTTP ${res.status} ${res.body.slice(0, 200)}`)
      const reply = JSON.parse(res.body) as { result?: string; arguments?: Record<string, unknown> }
      if (reply.result !== 'success') throw new Error(`transmission rpc ${method}: ${reply.result}`)
      return reply.arguments ?? {}
    }
    throw new Error(`transmission rpc ${method}: session id dance did not settle`)
  }

  private post (body: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: '/transmission/rpc',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(this.sessionId ? { 'X-Transmission-Session-Id': this.sessionId } : {}),
          },
          timeout: this.timeoutMs,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
          res.on('error', reject)
        }
      )
      req.on('timeout', () => req.destroy(new TimeoutError(`transmission rpc: no answer within ${this.timeoutMs} ms`)))
      req.on('error', reject)
      req.end(body)
    })
  }
}

/** settings.json: loopback only, no DHT/LPD/PEX/uTP/port forwarding, no queues or limits, RPC on 127.0.0.1. */
function transmissionSettings (
  opts: TransmissionOptions,
  at: { address: string; port: number; rpcPort: number; downloadDir: string }
): Record<string, unknown> {
  return {
    'bind-address-ipv4': at.address,
    'bind-address-ipv6': '::1',
    'peer-port': at.port,
    'peer-port-random-on-start': false,
    'port-forwarding-enabled': false,
    'dht-enabled': false,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': false,
    'blocklist-enabled': false,
    encryption: opts.encryption ?? 1,
    'rpc-enabled': true,
    'rpc-bind-address': '127.0.0.1',
    'rpc-port': at.rpcPort,
    'rpc-authentication-required': false,
    'rpc-whitelist-enabled': true,
    'rpc-whitelist': '127.0.0.1',
    'rpc-host-whitelist-enabled': false,
    'download-dir': at.downloadDir,
    'incomplete-dir-enabled': false,
    'watch-dir-enabled': false,
    'rename-partial-files': false,
    'start-added-torrents': true,
    'download-queue-enabled': false,
    'seed-queue-enabled': false,
    'queue-stalled-enabled': false,
    'ratio-limit-enabled': false,
    'idle-seeding-limit-enabled': false,
    'speed-limit-down-enabled': false,
    'speed-limit-up-enabled': false,
    'alt-speed-enabled': false,
    'scrape-paused-torrents-enabled': false,
    'script-torrent-done-enabled': false,
    'trash-original-torrent-files': false,
    preallocation: 0,
    'message-level': 2,
    ...opts.extraSettings,
  }
}

/** One running daemon: its process, its RPC, the torrent it was given and every peer it reported. */
class TransmissionDaemon {
  readonly seen = new Map<string, TrPeer>()
  torrentId = 0
  private poller: NodeJS.Timeout | undefined
  private stopped = false

  constructor (readonly proc: ManagedProcess, readonly rpc: TransmissionRpc, private readonly dir: string) {}

  dead (): Error {
    return new Error(`transmission-daemon exited\n${this.proc.tail()}`)
  }

  async torrent (): Promise<TrTorrent> {
    const r = await this.rpc.call('torrent-get', { ids: [this.torrentId], fields: TORRENT_FIELDS })
    const list = r.torrents as TrTorrent[] | undefined
    const t = list?.[0]
    if (!t) throw new Error('transmission: torrent vanished')
    for (const p of t.peers) this.seen.set(`${p.address}:${p.port}`, p)
    return t
  }

  /** Poll the torrent (and so its peers) twice a second until stop(). */
  poll (): void {
    this.poller = setInterval(() => { void this.torrent().catch(() => undefined) }, 500)
    this.poller.unref()
  }

  /** Wait until `check` holds, failing at once if the daemon exits. */
  waitFor (check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs: number): Promise<boolean> {
    return until(async () => {
      if (this.proc.hasExited()) throw this.dead()
      return check()
    }, timeoutMs, what, intervalMs)
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.poller) clearInterval(this.poller)
    try {
      await this.proc.stop('SIGTERM', 8000)
    } finally {
      removeDir(this.dir)
    }
  }
}

/** The RPC answers, the torrent is added (and, for a seeder, verified and seeding), the peer port listens. */
async function becomeReady (
  d: TransmissionDaemon,
  opts: TransmissionOptions,
  at: { address: string; port: number; downloadDir: string },
  left: () => number
): Promise<void> {
  await d.waitFor(async () => {
    try {
      await d.rpc.call('session-get')
      return true
    } catch {
      return false
    }
  }, left(), 'transmission RPC to answer', 150)
  const added = await d.rpc.call('torrent-add', {
    metainfo: (await readFile(opts.torrent.torrentPath)).toString('base64'),
    'download-dir': at.downloadDir,
    paused: false,
  })
  const info = (added['torrent-added'] ?? added['torrent-duplicate']) as { id: number } | undefined
  if (!info) throw new Error(`transmission: torrent-add returned ${JSON.stringify(added)}`)
  d.torrentId = info.id
  if (opts.mode === 'seed') {
    // Have it hash-check the copied content now, rather than whenever it gets round to it.
    await d.rpc.call('torrent-verify', { ids: [d.torrentId] })
    await d.waitFor(async () => {
      const t = await d.torrent()
      if (t.error) throw new Error(`transmission: ${t.errorString}`)
      return t.percentDone === 1 && t.status === 6 // 6 = seeding
    }, left(), 'transmission to verify and seed', 200)
  }
  await d.waitFor(async () => (await isListening(at.address, at.port)) !== false,
    left(), `transmission to listen on ${at.address}:${at.port}`, 100)
}

export async function startTransmission (opts: TransmissionOptions): Promise<TransmissionHandle> {
  const bin = findTransmission()
  if (!bin) throw new Error('transmission-daemon not found (install transmission-daemon: scripts/install-peers)')
  const address = opts.address ?? '127.0.0.1'
  assertLoopback(address)
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30000)
  const left = (): number => Math.max(1, deadline - Date.now())

  const { dir, downloadDir } = await makePeerDirs('tr', 'transmission', opts)
  const configDir = join(dir, 'config')
  await mkdir(configDir, { recursive: true })
  const port = opts.port ?? (await freePort(address))
  const rpcPort = opts.rpcPort ?? (await freePort('127.0.0.1'))
  const settings = transmissionSettings(opts, { address, port, rpcPort, downloadDir })
  await writeFile(join(configDir, 'settings.json'), JSON.stringify(settings, null, 2))

  // -f: foreground (our PID is the daemon). Flags repeat the settings so that a settings.json
  // rewrite by the daemon cannot turn anything back on.
  const args = ['-f', '-g', configDir, '--no-dht', '--no-lpd', '--no-utp', '-M', '--log-info']
  const proc = startProcess(bin, args, { label: `tr:${opts.mode}`, cwd: dir })
  const d = new TransmissionDaemon(proc, new TransmissionRpc(rpcPort), dir)
  try {
    await becomeReady(d, opts, { address, port, downloadDir }, left)
  } catch (err) {
    const tail = proc.tail(30)
    await d.stop()
    if (err instanceof Error) err.message += `\n${tail}`
    throw err
  }
  d.poll()

  return {
    kind: 'transmission',
    pid: proc.pid,
    address,
    port,
    rpcPort,
    dir,
    downloadDir,
    async waitForComplete (timeoutMs: number): Promise<void> {
      await d.waitFor(async () => {
        const t = await d.torrent()
        if (t.error) throw new Error(`transmission: ${t.errorString}`)
        return t.percentDone === 1 && t.leftUntilDone === 0
      }, timeoutMs, 'transmission download to complete', 250).catch(async (err: unknown) => {
        if (err instanceof TimeoutError) err.message += `\n${proc.tail(30)}`
        throw err
      })
      // The last piece is written before status says complete; give its file a moment to settle.
      await sleep(100)
    },
    contentPath: (rel?: string) => (rel ? join(downloadDir, opts.torrent.name, rel) : join(downloadDir, opts.torrent.name)),
    logTail: (n?: number) => proc.tail(n),
    rpc: (method, args) => d.rpc.call(method, args),
    torrent: () => d.torrent(),
    seenPeers: () => new Map(d.seen),
    stop: () => d.stop(),
  }
}
