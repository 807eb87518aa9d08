/**
 * Packet capture on loopback with tcpdump; flows.ts analyses the file (with tshark).
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { startProcess, makeTempDir, removeDir, which, type ManagedProcess } from './peers/common.js'
import { within, sleep } from 'test-support'
import { analyseCapture, type AnalyseOptions, type CaptureAnalysis, type CaptureStats } from './flows.js'

export type CaptureProtocol = 'tcp' | 'udp'

export interface CaptureOptions {
  /** Ports to capture (filter `tcp and (port A or port B ...)`). Empty: all TCP on the interface. */
  ports: number[]
  /** IP protocols to capture (default TCP only; add 'udp' for uTP, whose flows utp-flows.ts reassembles). */
  protocols?: CaptureProtocol[]
  /**
   * Bytes kept per packet (default 0: whole packets). libpcap sizes each ring slot for the snap length, so
   * whole-packet slots (256 KiB) leave room for only ~128 packets in the 32 MiB ring: fine for 64 KiB TCP
   * segments on loopback, too few for uTP's ~1.5 KB datagrams, which tcpdump then drops on a busy machine.
   */
  snapLength?: number
  /** Interface (default lo). */
  iface?: string
  /** Output file (default: capture.pcap in a fresh temp dir, removed by dispose()). */
  file?: string
  /** Bound for tcpdump to report "listening on". Default 10 s. */
  startTimeoutMs?: number
}

export interface CaptureHandle {
  readonly pid: number
  readonly file: string
  readonly filter: string
  /** Stop tcpdump (SIGINT, SIGKILL after a bound) and return its packet counters. Idempotent. */
  stop(): Promise<CaptureStats>
  /** Stop, then analyse the file (the flows on the capture's ports). */
  stopAndAnalyse(opts?: AnalyseOptions): Promise<CaptureAnalysis>
  /** Remove the temp dir (only when the file was ours). Call after analysis. */
  dispose(): void
  /** tcpdump's stderr tail. */
  logTail(): string
}

export function findTcpdump (): string | undefined {
  return which('tcpdump') ?? (which('/usr/sbin/tcpdump') ? '/usr/sbin/tcpdump' : undefined)
}

export function captureFilter (ports: number[], protocols: CaptureProtocol[] = ['tcp']): string {
  for (const p of ports) if (!Number.isInteger(p) || p <= 0 || p > 65535) throw new Error(`bad port ${p}`)
  const uniq = [...new Set(ports)]
  const protos = [...new Set(protocols)]
  if (protos.length === 0 || protos.some((p) => p !== 'tcp' && p !== 'udp')) throw new Error(`bad protocols ${protos.join(',')}`)
  const proto = protos.length === 1 ? protos[0]! : `(${protos.join(' or ')})`
  return uniq.length ? `${proto} and (${uniq.map((p) => `port ${p}`).join(' or ')})` : proto
}

/** tcpdump's command line: whole packets (or `snapLength`) handed over and written one by one. */
function tcpdumpArgs (opts: CaptureOptions, file: string, filter: string): string[] {
  // --immediate-mode: libpcap hands over each packet at once (otherwise TPACKET_V3 delivers whole
  // blocks on a 1 s timeout, and packets still in the ring when SIGINT arrives are never written);
  // -U: write each packet as it arrives; -n: no name lookups; -s 0: whole packets; -B: 32 MiB
  // kernel buffer so a fast loopback transfer (64 KiB segments) is not dropped while tcpdump waits
  // for a CPU.
  const args = ['-i', opts.iface ?? 'lo', '--immediate-mode', '-U', '-n', '-s', String(opts.snapLength ?? 0), '-B', '32768']
  // As root, Debian's tcpdump switches to user "tcpdump" after opening the device; that credential
  // change clears the parent-death signal startProcess arranges, so keep root (-Z root).
  if (process.getuid?.() === 0) args.push('-Z', 'root')
  args.push('-w', file, filter)
  return args
}

/** What tcpdump says on stderr: that it listens, and its packet counters when it stops. */
class TcpdumpReport {
  listening = false
  readonly stats: CaptureStats = {}

  constructor (proc: ManagedProcess) {
    proc.onStderrLine((line) => {
      if (/listening on /.test(line)) this.listening = true
      let m: RegExpExecArray | null
      if ((m = /^(\d+) packets? captured/.exec(line))) this.stats.captured = Number(m[1])
      if ((m = /^(\d+) packets? received by filter/.exec(line))) this.stats.receivedByFilter = Number(m[1])
      if ((m = /^(\d+) packets? dropped by kernel/.exec(line))) this.stats.droppedByKernel = Number(m[1])
    })
  }
}

/** Resolves once tcpdump listens; rejects if it exits first or after `timeoutMs`. */
function untilListening (proc: ManagedProcess, report: TcpdumpReport, timeoutMs: number): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (report.listening) { clearInterval(t); resolve() } else if (proc.hasExited()) { clearInterval(t); reject(new Error(`tcpdump exited before capturing:\n${proc.tail()}`)) }
      }, 20)
    }),
    timeoutMs,
    'tcpdump to start capturing'
  )
}

export async function startCapture (opts: CaptureOptions): Promise<CaptureHandle> {
  const tcpdump = findTcpdump()
  if (!tcpdump) throw new Error('tcpdump not found (scripts/install-peers installs it)')
  const ownDir = opts.file ? undefined : makeTempDir('pcap')
  const file = opts.file ?? join(ownDir!, 'capture.pcap')
  const filter = captureFilter(opts.ports, opts.protocols)
  const proc: ManagedProcess = startProcess(tcpdump, tcpdumpArgs(opts, file, filter), { label: 'tcpdump' })
  const report = new TcpdumpReport(proc)
  try {
    await untilListening(proc, report, opts.startTimeoutMs ?? 10000)
  } catch (err) {
    await proc.stop('SIGKILL', 2000)
    if (ownDir) removeDir(ownDir)
    throw err
  }
  let stopping: Promise<CaptureStats> | undefined
  const stop = (): Promise<CaptureStats> => {
    stopping ??= (async () => {
      // Packets are written (-U) as tcpdump reads them from its ring; whatever is still in the ring
      // at SIGINT is lost. On a busy machine tcpdump can lag behind a fast loopback transfer, so
      // wait until the file has stopped growing (bounded) before stopping it.
      await waitForQuiescentFile(file, 300, 5000)
      await proc.stop('SIGINT', 5000)
      return report.stats
    })()
    return stopping
  }
  return {
    pid: proc.pid,
    file,
    filter,
    stop,
    async stopAndAnalyse (aopts?: AnalyseOptions): Promise<CaptureAnalysis> {
      const s = await stop()
      const a = await analyseCapture(file, opts.ports, aopts)
      a.stats = s
      return a
    },
    dispose: () => { if (ownDir) removeDir(ownDir) },
    logTail: () => proc.tail(),
  }
}

/** Resolves once `file` has kept the same size for `quietMs` (at least 200 ms), or after `boundMs`. */
async function waitForQuiescentFile (file: string, quietMs: number, boundMs: number): Promise<void> {
  const size = async (): Promise<number> => { try { return (await stat(file)).size } catch { return -1 } }
  const deadline = Date.now() + boundMs
  let last = await size()
  let since = Date.now()
  await sleep(200)
  while (Date.now() < deadline) {
    const now = await size()
    if (now !== last) { last = now; since = Date.now() } else if (Date.now() - since >= quietMs) return
    await sleep(50)
  }
}
