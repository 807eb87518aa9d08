/**
 * A real libtorrent-rasterbar peer (Debian python3-libtorrent, 2.0.8 here), driven through
 * lt_peer.py. One process per peer, one torrent per process.
 */
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import {
  type PeerHandle, type TorrentSpec, type ManagedProcess, startProcess, makePeerDirs, removeDir, assertLoopback, toEndpoint,
} from './common.js'
import { within, TimeoutError } from 'test-support'
import { findPythonWith } from '../python.js'

const here = dirname(fileURLToPath(import.meta.url))
export const LT_PEER_SCRIPT = join(here, 'lt_peer.py')

/** libtorrent's own names (settings_pack::enc_policy / enc_level). */
export type LtEncPolicy = 'forced' | 'enabled' | 'disabled'
export type LtEncLevel = 'rc4' | 'plaintext' | 'both'

export interface LibtorrentOptions {
  torrent: TorrentSpec
  mode: 'seed' | 'download'
  /** Seed mode: the content (file or directory named like the torrent) to copy into the peer's dir. */
  seedFrom?: string
  /** Loopback address to listen on and dial from (default 127.0.0.1). */
  address?: string
  /** Listen port (default 0: libtorrent picks one and reports it). */
  port?: number
  /** out_enc_policy (default 'enabled'). */
  outEnc?: LtEncPolicy
  /** in_enc_policy (default 'enabled'). */
  inEnc?: LtEncPolicy
  /** allowed_enc_level (default 'both'). */
  level?: LtEncLevel
  preferRc4?: boolean
  /** Enable uTP, incoming and outgoing (default off: TCP only). */
  utp?: boolean
  /** Disable TCP, incoming and outgoing (default on): with `utp`, every connection is uTP. */
  noTcp?: boolean
  /** Peers to dial once the torrent is ready ("127.0.0.1:6881" or {address, port}). */
  connect?: Array<string | { address: string; port: number }>
  /** Bound for start-up (python start, listen socket). Default 20 s. */
  startTimeoutMs?: number
}

export interface LtPeerStatus {
  ip: string
  port: number
  client: string
  flags: string[]
  flagBits: number
  /** From peer_info flags: 'rc4' (rc4_encrypted), 'plaintext_encrypted' (MSE, plaintext payload), 'none'. */
  encryption: 'rc4' | 'plaintext_encrypted' | 'none'
  outgoing: boolean
  /** From the utp_socket peer flag. */
  transport: 'tcp' | 'utp'
  progress: number
  totalDownload: number
  totalUpload: number
}

export interface LtStatus {
  type: 'status'
  elapsed: number
  progress: number
  state: string
  seed: boolean
  numPeers: number
  totalPayloadDownload: number
  totalPayloadUpload: number
  errc: string
  peers: LtPeerStatus[]
}

export interface LibtorrentHandle extends PeerHandle {
  readonly kind: 'libtorrent'
  /** Latest status line. */
  lastStatus(): LtStatus | undefined
  /** Every connected (non-"connecting") peer seen in any status line, keyed "ip:port", last seen wins. */
  seenPeers(): Map<string, LtPeerStatus>
  /** Alert lines (peer_disconnected_alert etc.). */
  alerts(): string[]
  /** Ask the running peer to dial another one. */
  connect(ep: string | { address: string; port: number }): void
}

/** A python3 that can `import libtorrent` (python.ts), null when none. */
export function findLibtorrentPython (): string | null {
  return findPythonWith('libtorrent')?.python ?? null
}

export function findLibtorrentVersion (): string {
  return findPythonWith('libtorrent')?.version ?? ''
}

/** lt_peer.py's command line for `opts`. */
function ltPeerArgs (opts: LibtorrentOptions, address: string, downloadDir: string): string[] {
  const args = [
    '-u', LT_PEER_SCRIPT,
    '--torrent', opts.torrent.torrentPath,
    '--save', downloadDir,
    '--listen', `${address}:${opts.port ?? 0}`,
    '--mode', opts.mode,
    '--out-enc', opts.outEnc ?? 'enabled',
    '--in-enc', opts.inEnc ?? 'enabled',
    '--level', opts.level ?? 'both',
    '--stdin-commands',
    '--max-seconds', '900',
  ]
  if (opts.preferRc4) args.push('--prefer-rc4')
  if (opts.utp) args.push('--utp')
  if (opts.noTcp) args.push('--no-tcp')
  for (const c of opts.connect ?? []) {
    const ep = toEndpoint(c)
    args.push('--connect', `${ep.address}:${ep.port}`)
  }
  return args
}

/** What lt_peer.py reports on stdout (one JSON object a line), and waits on those reports. */
class LtPeerReports {
  listening: { address: string; port: number } | undefined
  status: LtStatus | undefined
  complete = false
  fatal: string | undefined
  readonly seen = new Map<string, LtPeerStatus>()
  readonly alerts: string[] = []
  private readonly waiters = new Set<() => void>()

  constructor (private readonly proc: ManagedProcess) {
    proc.onStdoutLine((line) => this.onLine(line))
    void proc.exited.then(() => this.wake())
  }

  private wake (): void {
    for (const w of this.waiters) w()
  }

  private onLine (line: string): void {
    let msg: { type?: string; [k: string]: unknown }
    try {
      msg = JSON.parse(line) as { type?: string }
    } catch {
      return
    }
    switch (msg.type) {
      case 'listening':
        this.listening = { address: String(msg.address), port: Number(msg.port) }
        break
      case 'status':
        this.status = msg as unknown as LtStatus
        for (const p of this.status.peers) if (!p.flags.includes('connecting')) this.seen.set(`${p.ip}:${p.port}`, p)
        break
      case 'peer': {
        const p = msg as unknown as LtPeerStatus
        this.seen.set(`${p.ip}:${p.port}`, p)
        break
      }
      case 'complete':
        this.complete = true
        break
      case 'alert':
        this.alerts.push(`${String(msg.what)}: ${String(msg.message)}`)
        break
      case 'error':
        this.fatal = String(msg.message)
        break
    }
    this.wake()
  }

  /** Resolves when `pred` holds; rejects on a fatal report, the process's exit, or the bound. */
  waitFor (pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const { proc, waiters } = this
    return within(
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pred()) { waiters.delete(check); resolve(); return }
          if (this.fatal) { waiters.delete(check); reject(new Error(`libtorrent peer error: ${this.fatal}\n${proc.tail()}`)); return }
          if (proc.hasExited()) { waiters.delete(check); reject(new Error(`libtorrent peer exited while waiting for ${what}\n${proc.tail()}`)) }
        }
        waiters.add(check)
        check()
      }),
      timeoutMs,
      `libtorrent ${what}`
    ).catch((err: unknown) => {
      if (err instanceof TimeoutError) err.message += `\n${proc.tail(30)}`
      throw err
    })
  }
}

export async function startLibtorrent (opts: LibtorrentOptions): Promise<LibtorrentHandle> {
  const python = findLibtorrentPython()
  if (!python) throw new Error('libtorrent python bindings not found (install python3-libtorrent: scripts/install-peers)')
  const address = opts.address ?? '127.0.0.1'
  assertLoopback(address)
  const { dir, downloadDir } = await makePeerDirs('lt', 'libtorrent', opts)
  const proc = startProcess(python, ltPeerArgs(opts, address, downloadDir), {
    label: `lt:${opts.mode}`,
    cwd: dir,
    stdinPipe: true,
    keepInTail: (line) => !line.startsWith('{"type":"status"'), // lastStatus() has the latest
  })
  const reports = new LtPeerReports(proc)

  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    try {
      await proc.stop('SIGTERM', 5000)
    } finally {
      removeDir(dir)
    }
  }

  try {
    await reports.waitFor(() => reports.listening !== undefined, opts.startTimeoutMs ?? 20000, 'listen socket')
  } catch (err) {
    await stop()
    throw err
  }

  return {
    kind: 'libtorrent',
    pid: proc.pid,
    address,
    port: reports.listening!.port,
    dir,
    downloadDir,
    waitForComplete: (timeoutMs) => reports.waitFor(() => reports.complete, timeoutMs, 'download to complete'),
    contentPath: (rel?: string) => (rel ? join(downloadDir, opts.torrent.name, rel) : join(downloadDir, opts.torrent.name)),
    logTail: (n?: number) => `${proc.tail(n)}\n[lt last status] ${JSON.stringify(reports.status)}`,
    lastStatus: () => reports.status,
    seenPeers: () => new Map(reports.seen),
    alerts: () => [...reports.alerts],
    connect: (ep) => {
      const e = toEndpoint(ep)
      proc.writeLine(`connect ${e.address}:${e.port}`)
    },
    stop,
  }
}
