/**
 * The processes of the flood proof (forked by flood.ts with an IPC channel):
 *
 *   victim <bytes>           webtorrent-node, `encryption: 'required'`, default handshake budget, seeding <bytes>
 *                            of random data on 127.0.0.1:0; sends {ready: {port, infoHash, torrentFile, sha256}},
 *                            samples its memory every 100 ms and its event-loop delay; on 'stop' sends
 *                            {victim: VictimReport} and exits.
 *   downloader <port> <torrentFile base64>
 *                            webtorrent-node, `required`, downloads from the victim (dialling from 127.0.0.1);
 *                            sends {downloader: {ms, sha256}} when done.
 *   prober <port> <infoHash> <intervalMs>
 *                            a legitimate MSE handshake every <intervalMs>, from 127.3.0.1 ... 127.3.0.200 in turn
 *                            (under every per-address limit), counted as baseline until 'flood'; on 'stop'
 *                            sends {prober: ProberReport}.
 *   flooder <port> <connections> <concurrency>
 *                            <connections> flood connections (a valid random key, junk PadA, junk after the
 *                            reply) from 64 addresses, 127.0.0.2-33 and 127.0.1.1-32, <concurrency> at once;
 *                            sends {flooder: FlooderReport}.
 */
import { createHash, randomBytes } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import MemoryChunkStore from 'memory-chunk-store'
import WebTorrent, { LOOPBACK_ONLY } from 'webtorrent-node'
import { floodConnection } from '../../packages/webtorrent-node/test/flood.js'
import { oneHandshake, percentile } from './handshake-probe.js'

export const FLOOD_ADDRESSES = [
  ...Array.from({ length: 32 }, (_, i) => `127.0.0.${i + 2}`),
  ...Array.from({ length: 32 }, (_, i) => `127.0.1.${i + 1}`)
]

export interface VictimReport {
  memory: {
    /** Before the flood, the highest sample during it, and at the end (MiB). */
    rssMiB: { before: number, max: number, after: number }
    heapUsedMiB: { before: number, max: number, after: number }
  }
  loopDelayMs: { p50: number, p99: number, max: number }
  cpuMs: number
  mseStats: any
}

export interface ProberReport {
  /** The same figures for the probes started before the flood ('flood' message): the machine's baseline. */
  baseline: { completed: number, p50Ms: number, p99Ms: number }
  attempts: number
  completed: number
  failures: Record<string, number>
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export interface FlooderReport {
  connections: number
  /** Answered with the victim's key: each cost the victim a DH exchange. */
  answered: number
  /** Closed unread by the victim (refused by the budget). */
  refused: number
  connectFailed: number
  ms: number
}

const MiB = 2 ** 20
const LOOP_RESOLUTION_MS = 1

function send (message: unknown): void {
  process.send!(message)
}

function onStop (handler: () => void): void {
  process.on('message', message => { if (message === 'stop') handler() })
}

async function victim (bytes: number): Promise<void> {
  const client: any = new WebTorrent({ ...LOOPBACK_ONLY, encryption: 'required' })
  client.on('error', (err: Error) => send({ error: err.message }))
  await new Promise<void>(resolve => client.listening ? resolve() : client.once('listening', () => resolve()))
  const data = randomBytes(bytes)
  const torrent: any = await new Promise(resolve => client.seed(data, { name: 'flood.bin', store: MemoryChunkStore, announce: [] }, resolve))
  const sha256 = createHash('sha256').update(data).digest('hex')
  if (typeof globalThis.gc === 'function') globalThis.gc()
  const before = process.memoryUsage()
  const max = { rss: before.rss, heapUsed: before.heapUsed }
  const sampler = setInterval(() => {
    const now = process.memoryUsage()
    max.rss = Math.max(max.rss, now.rss)
    max.heapUsed = Math.max(max.heapUsed, now.heapUsed)
  }, 100)
  const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  histogram.enable()
  const cpu0 = process.cpuUsage()
  send({ ready: { port: client.address().port, infoHash: torrent.infoHash, torrentFile: Buffer.from(torrent.torrentFile).toString('base64'), sha256 } })
  onStop(() => {
    clearInterval(sampler)
    histogram.disable()
    const cpu = process.cpuUsage(cpu0)
    const after = process.memoryUsage()
    const lateness = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS)
    const report: VictimReport = {
      memory: {
        rssMiB: { before: before.rss / MiB, max: max.rss / MiB, after: after.rss / MiB },
        heapUsedMiB: { before: before.heapUsed / MiB, max: max.heapUsed / MiB, after: after.heapUsed / MiB }
      },
      loopDelayMs: { p50: lateness(histogram.percentile(50)), p99: lateness(histogram.percentile(99)), max: lateness(histogram.max) },
      cpuMs: (cpu.user + cpu.system) / 1000,
      mseStats: client.mseStats
    }
    send({ victim: report })
    client.destroy(() => process.exit(0))
  })
}

async function downloader (port: number, torrentFileBase64: string): Promise<void> {
  const client: any = new WebTorrent({ ...LOOPBACK_ONLY, encryption: 'required' })
  client.on('error', (err: Error) => send({ error: err.message }))
  const started = performance.now()
  const torrent = client.add(Buffer.from(torrentFileBase64, 'base64'), { store: MemoryChunkStore, announce: [] })
  torrent.on('infoHash', () => torrent.addPeer(`127.0.0.1:${port}`))
  torrent.on('done', async () => {
    const ms = performance.now() - started
    const bytes = new Uint8Array(await torrent.files[0].arrayBuffer())
    send({ downloader: { ms, sha256: createHash('sha256').update(bytes).digest('hex'), mseStats: client.mseStats } })
    client.destroy(() => process.exit(0))
  })
}

async function prober (port: number, infoHashHex: string, intervalMs: number): Promise<void> {
  const infoHash = Buffer.from(infoHashHex, 'hex')
  const baseline: Array<Promise<number | string>> = []
  const results: Array<Promise<number | string>> = []
  let stopped = false
  let flooding = false
  onStop(() => { stopped = true })
  process.on('message', message => { if (message === 'flood') flooding = true })
  send({ ready: true })
  for (let i = 0; !stopped && i < 100_000; i++) {
    (flooding ? results : baseline).push(oneHandshake(port, infoHash, `127.3.0.${i % 200 + 1}`))
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  const before = (await Promise.all(baseline)).filter((r): r is number => typeof r === 'number').sort((a, b) => a - b)
  const settled = await Promise.all(results)
  const times = settled.filter((r): r is number => typeof r === 'number').sort((a, b) => a - b)
  const failures: Record<string, number> = {}
  for (const r of settled) if (typeof r === 'string') failures[r] = (failures[r] ?? 0) + 1
  const report: ProberReport = {
    baseline: { completed: before.length, p50Ms: percentile(before, 50), p99Ms: percentile(before, 99) },
    attempts: settled.length,
    completed: times.length,
    failures,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: times[times.length - 1] ?? NaN
  }
  send({ prober: report })
  process.exit(0)
}

async function flooder (port: number, connections: number, concurrency: number): Promise<void> {
  const started = performance.now()
  const report: FlooderReport = { connections, answered: 0, refused: 0, connectFailed: 0, ms: 0 }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < connections) {
      const i = next++
      const result = await floodConnection({ port, localAddress: FLOOD_ADDRESSES[i % FLOOD_ADDRESSES.length], maxMs: 35_000 })
      if (result.connectFailed) report.connectFailed += 1
      else if (result.answered) report.answered += 1
      else report.refused += 1
      if ((i + 1) % 1000 === 0) send({ progress: i + 1 })
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  report.ms = performance.now() - started
  send({ flooder: report })
  process.exit(0)
}

const [role, ...args] = process.argv.slice(2)
const run = role === 'victim'
  ? victim(Number(args[0]))
  : role === 'downloader'
    ? downloader(Number(args[0]), args[1]!)
    : role === 'prober'
      ? prober(Number(args[0]), args[1]!, Number(args[2]))
      : flooder(Number(args[0]), Number(args[1]), Number(args[2]))
run.catch(err => {
  send({ error: String(err?.stack ?? err) })
  process.exit(1)
})
