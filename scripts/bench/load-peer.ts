/**
 * One side of the load benchmark, in its own process (forked by load.ts with an IPC channel):
 *
 *   responder ours|upstream       a seeding client on 127.0.0.1:0; sends {ready: {port, infoHash}}. On
 *                                 {start: window} it begins recording its event-loop delay and CPU time; on
 *                                 {stop: window} it sends {responder: ResponderReport, window}. On {cpu: id}
 *                                 it sends {cpu: {id, ms}} (its CPU time so far); on 'exit' it closes.
 *   responder plaintext           the same with upstream webtorrent 3.0.21, `secure: 0`: no encryption at all
 *                                 (with our listen backlog, so that only the encryption differs from ours).
 *   initiator <port> <infoHash> <mse|plaintext>
 *                                 warms up against a responder of its own, sends {ready: true}, then runs
 *                                 one burst per {burst: {id, offset, count, addresses, firstOctets}}: opens
 *                                 <count> connections at once from local addresses <firstOctets>.A.B, runs
 *                                 an MSE handshake (`required`; our initiator, which also offers
 *                                 AES-128-CTR in its authenticated extension: ours takes it, upstream
 *                                 ignores it and runs RC4) with the BitTorrent handshake as IA on each, or
 *                                 sends the BitTorrent handshake in clear (plaintext), and times it until
 *                                 the responder's 68-byte BitTorrent handshake has arrived (decrypted);
 *                                 sends {initiator: InitiatorShare, id}. 'exit' ends it.
 *   idle                          a process doing nothing but recording its own event-loop delay between
 *                                 {start: window} and {stop: window} ({idle: {loopDelayMs}, window}): the machine's noise floor.
 *
 * ours: webtorrent-node's client, `encryption: 'required'`, the default handshake budget. upstream:
 * webtorrent 3.0.21 with `secure: 2` (bittorrent-protocol's own PE, RC4 only). plaintext: webtorrent 3.0.21
 * with `secure: 0`, what webtorrent itself costs per accepted connection. All TCP only, no discovery.
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks'
import MemoryChunkStore from 'memory-chunk-store'
import { SkeyRegistry } from 'mse-core'
import { MseStream } from 'mse-wire'
import UpstreamWebTorrent from 'webtorrent'
import WebTorrent, { DEFAULT_LISTEN_BACKLOG, LOOPBACK_ONLY, setListenBacklog } from 'webtorrent-node'
import { bittorrentHandshake, oneHandshake, type InitiatorShare } from './handshake-probe.js'
import { startWindowProfile } from './window-profile.js'

export type LoadContender = 'ours' | 'upstream' | 'plaintext'

export interface ResponderReport {
  /** Event-loop delay while the handshakes ran (ms): how late a 1 ms timer fired. */
  loopDelayMs: LoopDelay
  /** CPU time of the responder process over the same span. */
  cpuMs: number
  rssMiB: number
  /** V8's garbage-collection pauses over the same span: the main thread stopped, so the loop too. */
  gcPauses: GcPauses
  /** ours only: client.mseStats.budget. */
  budget?: unknown
  connected?: unknown
  errors?: unknown
}

/** Loop-delay sampling interval. Node records each interval's length; the delay is the part past it. */
const LOOP_RESOLUTION_MS = 1
/** Warm-up of each initiator process: rounds of handshakes in parallel, in-process (see warmUp). */
const WARM_UP_ROUNDS = 4
const WARM_UP_PER_ROUND = 25

export interface LoopDelay { p50: number, p99: number, max: number }

export interface GcPauses { count: number, totalMs: number, maxMs: number }

/** Records V8's GC pauses (perf_hooks 'gc' entries: how long each stopped the main thread). */
function gcPauseRecorder (): { start: () => void, stop: () => GcPauses } {
  let pauses: number[] = []
  const observer = new PerformanceObserver(list => { for (const entry of list.getEntries()) pauses.push(entry.duration) })
  return {
    start () { pauses = []; observer.observe({ entryTypes: ['gc'] }) },
    stop () {
      observer.disconnect()
      return { count: pauses.length, totalMs: pauses.reduce((sum, ms) => sum + ms, 0), maxMs: Math.max(0, ...pauses) }
    }
  }
}

/** Event-loop delay recorder: how late a 1 ms timer fires (Node records each interval's length). */
function loopDelayRecorder (): { start: () => void, stop: () => LoopDelay } {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  const lateness = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS)
  return {
    start () { histogram.reset(); histogram.enable() },
    stop () {
      histogram.disable()
      return { p50: lateness(histogram.percentile(50)), p99: lateness(histogram.percentile(99)), max: lateness(histogram.max) }
    }
  }
}

function runIdle (): void {
  const recorder = loopDelayRecorder()
  process.send!({ ready: true })
  process.on('message', (message: any) => {
    if (message?.start !== undefined) recorder.start()
    else if (message?.stop !== undefined) process.send!({ idle: { loopDelayMs: recorder.stop() }, window: message.stop })
    else if (message === 'exit') process.exit(0)
  })
}

async function runResponder (contender: LoadContender): Promise<void> {
  const options = { ...LOOPBACK_ONLY }
  let client: any
  if (contender === 'ours') client = new WebTorrent({ ...options, encryption: 'required' })
  else if (contender === 'plaintext') {
    client = new UpstreamWebTorrent({ ...options, secure: 0 })
    // The floor measures webtorrent's work per connection, not its 511-connection accept queue overflowing
    // (SYNs dropped, a 1 s retransmit): it gets the backlog ours has.
    setListenBacklog(client._connPool.tcpServer, DEFAULT_LISTEN_BACKLOG)
  } else {
    const warn = console.warn
    console.warn = () => {} // upstream warns once that Node has no native RC4 (its JS fallback runs)
    try { client = new UpstreamWebTorrent({ ...options, secure: 2 }) } finally { console.warn = warn }
  }
  client.on('error', (err: Error) => process.send!({ error: err.message }))
  await new Promise<void>(resolve => client.listening ? resolve() : client.once('listening', () => resolve()))
  const data = randomBytes(64 * 1024)
  const torrent: any = await new Promise(resolve => client.seed(data, { name: 'load.bin', store: MemoryChunkStore, announce: [] }, resolve))
  process.send!({ ready: { port: client.address().port, infoHash: torrent.infoHash } })

  const recorder = loopDelayRecorder()
  const gc = gcPauseRecorder()
  let cpuAtStart = process.cpuUsage()
  let stopProfile: Promise<() => Promise<void>> | undefined
  process.on('message', (message: any) => {
    if (message?.start !== undefined) {
      stopProfile = startWindowProfile(`responder-${contender}-${String(message.start)}`)
      cpuAtStart = process.cpuUsage()
      recorder.start()
      gc.start()
    } else if (message?.stop !== undefined) {
      const loopDelayMs = recorder.stop()
      const gcPauses = gc.stop()
      const cpu = process.cpuUsage(cpuAtStart)
      const report: ResponderReport = {
        loopDelayMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
        rssMiB: process.memoryUsage().rss / 2 ** 20,
        gcPauses
      }
      if (contender === 'ours') {
        const stats = client.mseStats
        report.budget = stats.budget
        report.connected = stats.connected
        report.errors = stats.errors
      }
      const profiled = stopProfile?.then(async stop => await stop()) ?? Promise.resolve()
      profiled.finally(() => process.send!({ responder: report, window: message.stop })).catch(() => {})
    } else if (message?.cpu !== undefined) {
      const { user, system } = process.cpuUsage()
      process.send!({ cpu: { id: message.cpu, ms: (user + system) / 1000 } })
    } else if (message === 'exit') {
      client.destroy(() => process.exit(0))
    }
  })
}

/**
 * A new initiator process runs cold: its first handshakes would compile the MSE code and build the shared DH
 * object (OpenSSL checks the prime) inside the measured burst, taking CPU from the load generator, not from
 * the responder measured. So each one first runs handshakes against a responder of its own, in-process.
 */
async function warmUp (encryption: 'mse' | 'plaintext'): Promise<void> {
  const infoHash = randomBytes(20)
  const skeys = new SkeyRegistry()
  skeys.add(infoHash)
  const server = net.createServer(socket => {
    const stream = new MseStream(socket, { role: 'responder', policy: encryption === 'mse' ? 'required' : 'tolerated', skeys, linger: false })
    stream.on('error', () => {})
    stream.on('data', () => { stream.write(bittorrentHandshake(infoHash)) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    await Promise.all(Array.from({ length: WARM_UP_PER_ROUND }, async () => await oneHandshake(port, infoHash, '127.0.0.1', encryption)))
  }
  await new Promise<void>(resolve => server.close(() => resolve()))
}

export interface Burst {
  id: number
  /** Connections <offset> .. <offset + count - 1> of the burst (the share of this initiator process). */
  offset: number
  count: number
  /** Connection g comes from address g % addresses, i.e. <firstOctets>.(a / 250).(a % 250 + 1). */
  addresses: number
  firstOctets: string
}

async function runBurst (port: number, infoHash: Buffer, burst: Burst, encryption: 'mse' | 'plaintext'): Promise<InitiatorShare> {
  const { offset, count, addresses, firstOctets } = burst
  const addressOf = (g: number): string => `${firstOctets}.${Math.floor((g % addresses) / 250)}.${(g % addresses) % 250 + 1}`
  const stopProfile = await startWindowProfile(`initiator-${firstOctets}-${offset}`)
  const cpuAtStart = process.cpuUsage()
  const epoch = (): number => performance.timeOrigin + performance.now()
  const startedAt = epoch()
  let endedAt = startedAt
  const results = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const result = await oneHandshake(port, infoHash, addressOf(offset + i), encryption)
    if (typeof result === 'number') endedAt = Math.max(endedAt, epoch())
    return result
  }))
  const failures: Record<string, number> = {}
  for (const r of results) if (typeof r === 'string') failures[r] = (failures[r] ?? 0) + 1
  const cpu = process.cpuUsage(cpuAtStart)
  await stopProfile()
  return { startedAt, endedAt, times: results.filter((r): r is number => typeof r === 'number'), failures, cpuMs: (cpu.user + cpu.system) / 1000 }
}

/**
 * One initiator process for every burst against one responder: it warms up once, then runs each burst it is
 * sent, one at a time, so that a later burst meets an initiator as warm as the responder.
 */
async function runInitiator (port: number, infoHashHex: string, encryption: 'mse' | 'plaintext'): Promise<void> {
  const infoHash = Buffer.from(infoHashHex, 'hex')
  if (process.env.LOAD_WARM !== 'off') await warmUp(encryption)
  let queue = Promise.resolve()
  process.on('message', (message: any) => {
    if (message === 'exit') process.exit(0)
    const burst = message?.burst as Burst | undefined
    if (burst === undefined) return
    queue = queue.then(async () => {
      const share = await runBurst(port, infoHash, burst, encryption)
      process.send!({ initiator: share, id: burst.id })
    }).catch(err => { process.send!({ error: String(err?.stack ?? err) }) })
  })
  process.send!({ ready: true })
}

const [role, ...args] = process.argv.slice(2)
const run = role === 'idle'
  ? Promise.resolve(runIdle())
  : role === 'responder'
    ? runResponder(args[0] as LoadContender)
    : runInitiator(Number(args[0]), args[1]!, args[2] === 'plaintext' ? 'plaintext' : 'mse')
run.catch(err => {
  process.send!({ error: String(err?.stack ?? err) })
  process.exit(1)
})
