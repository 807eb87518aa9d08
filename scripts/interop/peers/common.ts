/**
 * Shared plumbing for the real-peer drivers: processes started and ended by PID only, bounded
 * waits, temp directories, loopback ports, JSON-over-HTTP.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, mkdtempSync, rmSync, accessSync, constants as fsConstants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { tmpdir } from 'node:os'
import net from 'node:net'
import { within } from 'test-support'

/** What every driver returns. */
export interface PeerHandle {
  /** 'libtorrent' | 'transmission' | 'ctorrent' */
  readonly kind: string
  /** PID of the real peer process (the only process the driver ever signals). */
  readonly pid: number
  /** Loopback address the peer listens on for BitTorrent connections. */
  readonly address: string
  /** TCP port the peer listens on for BitTorrent connections. */
  readonly port: number
  /** Fresh temp directory owned by this peer (removed by stop()). */
  readonly dir: string
  /** Directory the torrent's content lives in (seeder: copied in; downloader: written here). */
  readonly downloadDir: string
  /** Resolves when the peer has the whole torrent; rejects after timeoutMs or if the peer dies. */
  waitForComplete(timeoutMs: number): Promise<void>
  /** Absolute path of a file of the torrent inside downloadDir (single-file torrent: no argument). */
  contentPath(relative?: string): string
  /** Last lines of the peer's stdout/stderr/log, for failure messages. */
  logTail(lines?: number): string
  /** SIGTERM the PID, SIGKILL after a bound, then remove the temp directory. Idempotent. */
  stop(): Promise<void>
}

/** The torrent a driver is asked to seed or download. */
export interface TorrentSpec {
  /** Path of the .torrent file. */
  torrentPath: string
  /** The torrent's `info.name` (file name for a single-file torrent, directory otherwise). */
  name: string
  /** Hex info hash (v1). */
  infoHash: string
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Every PID we started and have not yet seen exit. Used only for a last-resort SIGKILL at exit. */
const livePids = new Set<number>()
let exitHookInstalled = false
function killRecorded (): void {
  for (const pid of livePids) {
    try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
  }
  for (const dir of liveDirs) {
    try { rmSync(dir, { recursive: true, force: true }) } catch { /* best effort */ }
  }
}
function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', killRecorded)
  // Killed from outside (CI timeout, Ctrl-C): end our recorded PIDs, then die of the same signal.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killRecorded()
      process.removeListener(sig, onSignal)
      process.kill(process.pid, sig)
    }
    process.on(sig, onSignal)
  }
}

/** PIDs started by this module that are still running (for tests to assert nothing leaked). */
export function runningPids (): number[] {
  return [...livePids]
}

export interface ManagedProcess {
  readonly pid: number
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  hasExited(): boolean
  /** Calls `fn` for every complete stdout line (past lines are not replayed). */
  onStdoutLine(fn: (line: string) => void): void
  /** Calls `fn` for every complete stderr line. */
  onStderrLine(fn: (line: string) => void): void
  tail(lines?: number): string
  /** Write one line to the process's stdin (only with stdinPipe). */
  writeLine(line: string): void
  /** Send `signal` to our PID, SIGKILL after graceMs if it is still alive; resolves once it exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>
}

export interface StartOptions extends Pick<SpawnOptions, 'cwd' | 'env'> {
  /** Label used in the tail and in errors. */
  label: string
  /** Lines of output kept for logTail (default 400). */
  keepLines?: number
  /** Lines for which this returns false are passed to listeners but not kept in the tail. */
  keepInTail?: (line: string) => boolean
  /** Give the process a stdin pipe (default: /dev/null). */
  stdinPipe?: boolean
}

let setprivPath: string | null | undefined

/**
 * `setpriv --pdeathsig KILL -- cmd args` (util-linux, Linux): the kernel kills the peer if this
 * Node process dies without cleaning up (SIGKILL, crash). setpriv execs the command, so the PID we
 * record is the peer's own. Skipped when setpriv is missing.
 */
function withParentDeathSignal (cmd: string, args: string[]): [string, string[]] {
  if (setprivPath === undefined) {
    setprivPath = process.platform === 'linux' ? which('setpriv') ?? null : null
    if (setprivPath && runQuick(setprivPath, ['--pdeathsig', 'KILL', '--', 'true'], 5000).status !== 0) setprivPath = null
  }
  return setprivPath ? [setprivPath, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args]
}

export function startProcess (cmd: string, args: string[], opts: StartOptions): ManagedProcess {
  installExitHook()
  ;[cmd, args] = withParentDeathSignal(cmd, args)
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    // Own process group is NOT used: we signal exactly the PID we started, nothing else.
    detached: false,
  })
  const keep = opts.keepLines ?? 400
  const lines: string[] = []
  const push = (tag: string, line: string): void => {
    lines.push(`[${opts.label} ${tag}] ${line}`)
    if (lines.length > keep) lines.splice(0, lines.length - keep)
  }
  const outListeners: Array<(l: string) => void> = []
  const errListeners: Array<(l: string) => void> = []
  const splitter = (tag: string, listeners: Array<(l: string) => void>) => {
    let buf = ''
    return (chunk: Buffer): void => {
      buf += chunk.toString('utf8')
      // Lines end in \n, \r\n or a bare \r (console status lines that redraw themselves).
      let m: RegExpExecArray | null
      while ((m = /\r\n|\n|\r(?=[^\n])/.exec(buf)) !== null) {
        const line = buf.slice(0, m.index)
        buf = buf.slice(m.index + m[0].length)
        if (line.trim() === '') continue
        if (!opts.keepInTail || opts.keepInTail(line)) push(tag, line)
        for (const fn of listeners) fn(line)
      }
    }
  }
  child.stdin?.on('error', () => { /* EPIPE after the process exited */ })
  child.stdout?.on('data', splitter('out', outListeners))
  child.stderr?.on('data', splitter('err', errListeners))

  let done = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true
      if (child.pid !== undefined) livePids.delete(child.pid)
      push('exit', `code=${code} signal=${signal}`)
      resolve({ code, signal })
    })
    child.once('error', (err) => {
      done = true
      if (child.pid !== undefined) livePids.delete(child.pid)
      push('error', String(err))
      resolve({ code: null, signal: null })
    })
  })
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT is reported through 'error')
    throw new Error(`${opts.label}: could not start ${cmd}`)
  }
  const pid = child.pid
  livePids.add(pid)

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> => {
    if (done) return
    try { process.kill(pid, signal) } catch { /* exited meanwhile */ }
    let timer: NodeJS.Timeout | undefined
    const first = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), graceMs) }),
    ])
    clearTimeout(timer)
    if (!first && !done) {
      push('stop', `still alive ${graceMs} ms after ${signal}: SIGKILL`)
      try { process.kill(pid, 'SIGKILL') } catch { /* exited meanwhile */ }
      await within(exited, 5000, `${opts.label} (pid ${pid}) to exit after SIGKILL`)
    }
  }

  return {
    pid,
    child,
    exited,
    hasExited: () => done,
    onStdoutLine: (fn) => { outListeners.push(fn) },
    onStderrLine: (fn) => { errListeners.push(fn) },
    tail: (n = 60) => lines.slice(-n).join('\n'),
    writeLine: (line: string) => {
      if (!child.stdin) throw new Error(`${opts.label}: no stdin pipe`)
      if (!done) child.stdin.write(line + '\n')
    },
    stop,
  }
}

/** Resolve an executable on PATH (or an absolute path); undefined when missing. */
export function which (cmd: string): string | undefined {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : undefined
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const p = join(dir, cmd)
    if (isExecutable(p)) return p
  }
  return undefined
}

function isExecutable (p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Run a short command synchronously with a bound; returns status and output. */
export function runQuick (cmd: string, args: string[], timeoutMs = 10000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { timeout: timeoutMs, encoding: 'utf8', killSignal: 'SIGKILL' })
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}

// ---------------------------------------------------------------------------------------------
// Files and ports

/** Temp dirs made by makeTempDir and not yet removed (removed at exit/signal as a last resort). */
const liveDirs = new Set<string>()

export function makeTempDir (prefix: string): string {
  installExitHook()
  const dir = mkdtempSync(join(tmpdir(), `mse-interop-${prefix}-`))
  liveDirs.add(dir)
  return dir
}

export function removeDir (dir: string): void {
  if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
  liveDirs.delete(dir)
}

export function sha256File (path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')))
  })
}

/** Only addresses in 127.0.0.0/8 are accepted anywhere in this suite. */
export function assertLoopback (address: string): void {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) {
    throw new Error(`interop suite is loopback-only; refusing address ${address}`)
  }
}

/**
 * Ports `freePort` has handed out in this process. The kernel may give a port it just freed to the next bind
 * to :0, so two calls in a row (a peer port and an RPC port for the same daemon) could return the same
 * number: Transmission then binds its RPC server and fails to bind its peer port.
 */
const handedOut = new Set<number>()
/** Binds to :0 this many times at most looking for a port not handed out yet. */
const FREE_PORT_ATTEMPTS = 50

/** A TCP port that was free on `host` a moment ago (bind to :0, read it, close), never one handed out before. */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  assertLoopback(host)
  for (let attempt = 0; attempt < FREE_PORT_ATTEMPTS; attempt++) {
    const port = await unusedPort(host)
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port on ${host} that was not handed out already (${FREE_PORT_ATTEMPTS} attempts)`)
}

async function unusedPort (host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))))
    })
  })
}

/** True once something accepts TCP connections on host:port. */
export function canConnect (host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    const t = setTimeout(() => { s.destroy(); resolve(false) }, timeoutMs)
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(true) })
    s.once('error', () => { clearTimeout(t); resolve(false) })
  })
}

/**
 * True when a TCP socket is in LISTEN state on address:port (or on 0.0.0.0:port), read from
 * /proc/net/tcp so that checking does not open a connection to the peer (which would show up in
 * its logs and in captures). Linux only; elsewhere it returns undefined.
 */
export async function isListening (address: string, port: number): Promise<boolean | undefined> {
  const { readFile } = await import('node:fs/promises')
  let text: string
  try {
    text = await readFile('/proc/net/tcp', 'utf8')
  } catch {
    return undefined
  }
  const want = new Set([hexAddrV4(address), '00000000'])
  const wantPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 4) continue
    const [addr, p] = (cols[1] ?? '').split(':')
    if (cols[3] === '0A' && p === wantPort && addr !== undefined && want.has(addr)) return true
  }
  return false
}

function hexAddrV4 (address: string): string {
  // /proc/net/tcp prints the address as the host-order 32-bit value; on little-endian hosts the
  // octets appear reversed.
  const octets = address.split('.').map((o) => Number(o))
  const le = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1
  const ordered = le ? octets.reverse() : octets
  return ordered.map((o) => o.toString(16).toUpperCase().padStart(2, '0')).join('')
}

/** Copy a seeder's content (a file or a directory) to `destDir/name`. */
export async function copyContent (source: string, destDir: string, name: string): Promise<string> {
  const { cp, mkdir } = await import('node:fs/promises')
  await mkdir(destDir, { recursive: true })
  const dest = join(destDir, name)
  await cp(source, dest, { recursive: true })
  return dest
}

/** Parse "ip:port" or {address, port} into a checked loopback endpoint. */
export function toEndpoint (ep: string | { address: string; port: number }): { address: string; port: number } {
  if (typeof ep === 'string') {
    const i = ep.lastIndexOf(':')
    ep = { address: ep.slice(0, i), port: Number(ep.slice(i + 1)) }
  }
  assertLoopback(ep.address)
  if (!Number.isInteger(ep.port) || ep.port <= 0 || ep.port > 65535) throw new Error(`bad port in ${ep.address}:${ep.port}`)
  return ep
}

/** A driver's fresh temp dir and its download dir (`<dir>/data`), with a seeder's content copied in. */
export async function makePeerDirs (
  prefix: string,
  kind: string,
  opts: { mode: 'seed' | 'download'; seedFrom?: string; torrent: { name: string } }
): Promise<{ dir: string; downloadDir: string }> {
  const { mkdir } = await import('node:fs/promises')
  const dir = makeTempDir(prefix)
  const downloadDir = join(dir, 'data')
  await mkdir(downloadDir, { recursive: true })
  if (opts.mode === 'seed') {
    if (!opts.seedFrom) throw new Error(`${kind} seed mode needs seedFrom`)
    await copyContent(opts.seedFrom, downloadDir, opts.torrent.name)
  }
  return { dir, downloadDir }
}
