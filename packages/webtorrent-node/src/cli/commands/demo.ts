import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Command } from 'commander'
import type { EncryptionPolicy, MseStats } from '../../index.js'
import { runCommand, type CliContext } from '../context.js'
import { CliError } from '../errors.js'
import { averageSpeed, formatBytes, formatDuration, formatSpeed, table } from '../format.js'
import { LOOPBACK_ONLY, addOutputOptions, encryptionOption, positiveNumber, type OutputOptions } from '../options.js'
import { debug, type Output } from '../output.js'
import { describeMethod, mseStatsRows, wireFields, type WireReport } from '../peers.js'
import { ProgressDisplay, sampleTorrent } from '../progress.js'
import { createClient, deferred, destroyClient, onTerminationSignal, whenListening } from '../runtime.js'
import { WireWatch } from '../wire-watch.js'

export interface DemoOptions extends OutputOptions {
  size: number
  encryption: EncryptionPolicy
  seederEncryption: EncryptionPolicy
  timeout: number
}

export function defineDemo (program: Command, ctx: CliContext): void {
  const command = program
    .command('demo')
    .description('seed and download random data over 127.0.0.1 with MSE, and verify it')
    .option('--size <MiB>', 'how much random data', positiveNumber('a size in MiB', 1024), 8)
    .addOption(encryptionOption('--encryption <mode>', 'MSE policy of the downloader', 'required'))
    .addOption(encryptionOption('--seeder-encryption <mode>', 'MSE policy of the seeder', 'required'))
    .option('--timeout <seconds>', 'give up after this long', positiveNumber('a number of seconds', 3600), 60)
  addOutputOptions(command)
  command.action(async (options: DemoOptions) => {
    await runCommand(ctx, options, out => demo(options, out))
  })
}

/** Writes `size` random bytes in 1 MiB chunks; returns their SHA-256. */
async function writeRandomFile (file: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const handle = await open(file, 'w')
  try {
    for (let written = 0; written < size;) {
      const chunk = randomBytes(Math.min(1024 * 1024, size - written))
      hash.update(chunk)
      await handle.write(chunk)
      written += chunk.length
    }
  } finally {
    await handle.close()
  }
  return hash.digest('hex')
}

async function sha256File (file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function errorsOf (stats: MseStats): string {
  const entries = Object.entries(stats.errors).filter(([, n]) => (n ?? 0) > 0)
  return entries.length === 0 ? 'none' : entries.map(([code, n]) => `${code} ×${n}`).join(', ')
}

function errorCount (stats: MseStats): number {
  return Object.values(stats.errors).reduce((sum, n) => sum + (n ?? 0), 0)
}

function methodWord (method: WireReport['method']): string {
  return method === 'rc4' ? 'rc4 (MSE)' : method === 'aes-128-ctr' ? 'aes-128-ctr (MSE)' : method === 'plaintext-after-mse' ? 'plaintext after MSE' : method ?? 'an unknown method'
}

export async function demo (options: DemoOptions, out: Output): Promise<number> {
  const bytes = Math.max(1, Math.round(options.size * 1024 * 1024))
  const run = new DemoRun(options, out)
  try {
    announceDemo(options, bytes, out)
    const source = await run.writeSource(bytes)
    const seeding = await run.startSeeder(source.file)
    const transfer = await run.download(seeding, source.downloadDir)
    const outcome = await run.verify(transfer, source.sha256)
    reportOutcome(out, outcome)
    if (!outcome.verified) throw new CliError('the downloaded data differs from the source (SHA-256 mismatch)', 'verify-failed')
    out.result(passedLine(outcome))
    return 0
  } catch (error) {
    if (error instanceof CliError) throw error
    throw new CliError(`demo failed: ${(error as Error).message}`, 'demo-failed')
  } finally {
    await run.close()
  }
}

function announceDemo (options: DemoOptions, bytes: number, out: Output): void {
  out.event('demo', { size: bytes, encryption: options.encryption, seederEncryption: options.seederEncryption, address: '127.0.0.1' })
  out.info(`webtorrent-mse demo: ${formatBytes(bytes)} of random data, seeded and downloaded in this process over 127.0.0.1`)
  out.info(`  seeder encryption ${options.seederEncryption}, downloader encryption ${options.encryption}; DHT, trackers, LSD, PEX, uTP and NAT mapping off`)
}

/** The data the demo seeds, and where the downloader saves its copy. */
interface DemoSource {
  file: string
  sha256: string
  downloadDir: string
}

interface Seeding {
  magnetURI: string
  port: number
}

interface Transfer {
  torrent: any
  elapsedMs: number
}

/** A finished transfer, checked: the hashes, and how each side's connections went. */
interface DemoOutcome extends Transfer {
  verified: boolean
  sha256: string
  sourceSha256: string
  connections: Array<WireReport & { side: 'downloader' | 'seeder' }>
  downloaderStats: MseStats
  seederStats: MseStats
}

/**
 * The two clients of one demo and what they need until it ends: a failure (an error, the deadline, a
 * signal, or a pair that cannot connect) ends whichever step is waiting; `close` always cleans up.
 */
class DemoRun {
  private readonly failure = deferred<Error>()
  private readonly deadline: NodeJS.Timeout
  private readonly removeSignalHandlers: () => void
  private tmp: string | undefined
  private seeder: any
  private downloader: any
  private downloadTorrent: any
  private seederWatch: WireWatch | undefined
  private downloaderWatch: WireWatch | undefined
  private display: ProgressDisplay | undefined
  private watchdog: NodeJS.Timeout | undefined

  constructor (private readonly options: DemoOptions, private readonly out: Output) {
    this.deadline = setTimeout(() => {
      const torrent = this.downloadTorrent
      const progress = torrent ? ` at ${(torrent.progress * 100).toFixed(1)}% with ${torrent.numPeers} peer(s)` : ''
      this.fail(new CliError(`the demo did not finish within ${options.timeout} s${progress}`, 'timeout'))
    }, options.timeout * 1000)
    this.removeSignalHandlers = onTerminationSignal(signal => this.fail(new CliError(`interrupted (${signal})`, 'interrupted', 130)))
  }

  private readonly fail = (error: unknown): void => {
    this.failure.resolve(error instanceof Error ? error : new Error(String(error)))
  }

  /** Waits for `promise` unless something fails first. */
  private async step<T> (promise: Promise<T>): Promise<T> {
    return await Promise.race([
      promise,
      this.failure.promise.then(error => { throw error })
    ])
  }

  /** Random data in a new temporary folder, and the (empty) folder the downloader saves to. */
  async writeSource (bytes: number): Promise<DemoSource> {
    this.tmp = await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-demo-'))
    const seedDir = path.join(this.tmp, 'seed')
    const downloadDir = path.join(this.tmp, 'download')
    await mkdir(seedDir)
    await mkdir(downloadDir)
    const file = path.join(seedDir, `demo-${this.options.size}MiB.bin`)
    const sha256 = await this.step(writeRandomFile(file, bytes))
    debug('demo data in %s, sha256 %s', file, sha256)
    return { file, sha256, downloadDir }
  }

  async startSeeder (file: string): Promise<Seeding> {
    this.seeder = await createClient({ ...LOOPBACK_ONLY, encryption: this.options.seederEncryption })
    this.seeder.on('error', this.fail)
    const port = await this.step(whenListening(this.seeder))
    this.out.event('listening', { side: 'seeder', port, encryption: this.options.seederEncryption })
    const torrent = this.seeder.seed(file, { announceList: [] })
    torrent.on('error', this.fail)
    this.seederWatch = new WireWatch(torrent, this.out, { side: 'seeder', announce: false })
    await this.step(new Promise<void>(resolve => torrent.once('ready', () => resolve())))
    this.out.event('seeding', { side: 'seeder', port, infoHash: torrent.infoHash, magnet: torrent.magnetURI })
    this.out.info(`  seeder listening on port ${port}, info hash ${torrent.infoHash}`)
    return { magnetURI: torrent.magnetURI, port }
  }

  /** The downloader: the magnet only (the metadata comes over the encrypted wire too), one peer; until done. */
  async download ({ magnetURI, port }: Seeding, downloadDir: string): Promise<Transfer> {
    this.downloader = await createClient({ ...LOOPBACK_ONLY, encryption: this.options.encryption })
    const startedAt = Date.now()
    this.downloader.on('error', this.fail)
    const torrent = this.downloadTorrent = this.downloader.add(magnetURI, { path: downloadDir })
    torrent.on('error', this.fail)
    const watch = this.downloaderWatch = new WireWatch(torrent, this.out, { side: 'downloader', announce: false })
    torrent.once('infoHash', () => {
      torrent.addPeer(`127.0.0.1:${port}`)
      this.out.info(`  downloader dialling 127.0.0.1:${port}`)
    })
    torrent.once('ready', () => {
      this.display = new ProgressDisplay(this.out, 'download', () => sampleTorrent(torrent, watch), { side: 'downloader', plainIntervalMs: 2000 })
      this.display.start()
    })
    this.failIfNeverConnected(torrent)
    await this.step(new Promise<void>(resolve => torrent.once('done', () => resolve())))
    const elapsedMs = Date.now() - startedAt
    this.stopProgress()
    return { torrent, elapsedMs }
  }

  /** An incompatible pair (required against disabled) never connects: say so instead of waiting. */
  private failIfNeverConnected (torrent: any): void {
    const { downloader, seeder, options } = this
    let firstErrorAt: number | undefined
    this.watchdog = setInterval(() => {
      if (torrent.wires.length > 0 || torrent.done) return
      const errors = errorCount(downloader.mseStats) + errorCount(seeder.mseStats)
      if (errors === 0) return
      firstErrorAt ??= Date.now()
      if (Date.now() - firstErrorAt < 4000) return
      this.fail(new CliError(
        `the downloader (encryption ${options.encryption}) could not connect to the seeder (encryption ${options.seederEncryption}): ` +
        `downloader MSE errors: ${errorsOf(downloader.mseStats)}; seeder MSE errors: ${errorsOf(seeder.mseStats)}`, 'no-connection'))
    }, 250)
    this.watchdog.unref()
  }

  /** The downloaded file's SHA-256 against the source's, and each side's connections once described. */
  async verify (transfer: Transfer, sourceSha256: string): Promise<DemoOutcome> {
    const { torrent } = transfer
    this.out.info(`verifying the download (SHA-256 of ${formatBytes(torrent.length)})...`)
    const sha256 = await this.step(sha256File(path.join(torrent.path, torrent.files[0].path)))
    const seederWatch = this.seederWatch!
    const downloaderWatch = this.downloaderWatch!
    await seederWatch.settle()
    await downloaderWatch.settle()
    return {
      ...transfer,
      verified: sha256 === sourceSha256,
      sha256,
      sourceSha256,
      connections: [
        ...downloaderWatch.reports.map(report => ({ side: 'downloader' as const, ...report })),
        ...seederWatch.reports.map(report => ({ side: 'seeder' as const, ...report }))
      ],
      downloaderStats: this.downloader.mseStats,
      seederStats: this.seeder.mseStats
    }
  }

  private stopProgress (): void {
    this.display?.stop()
    this.display = undefined
  }

  async close (): Promise<void> {
    clearTimeout(this.deadline)
    if (this.watchdog) clearInterval(this.watchdog)
    this.stopProgress()
    this.seederWatch?.stop()
    this.downloaderWatch?.stop()
    await Promise.all([destroyClient(this.downloader, 3000), destroyClient(this.seeder, 3000)])
    this.removeSignalHandlers()
    const { tmp } = this
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch((error: unknown) => debug('cleanup of %s failed: %o', tmp, error))
  }
}

/** The `done` event, then each connection, both clients' MSE stats and the two hashes. */
function reportOutcome (out: Output, o: DemoOutcome): void {
  out.event('done', {
    verified: o.verified,
    sha256: o.sha256,
    sourceSha256: o.sourceSha256,
    length: o.torrent.length,
    elapsedMs: o.elapsedMs,
    averageSpeed: Math.round(averageSpeed(o.torrent.length, o.elapsedMs)),
    connections: o.connections.map(c => ({ side: c.side, ...wireFields(c) })),
    mseStats: { downloader: o.downloaderStats, seeder: o.seederStats }
  })
  out.info('')
  out.info('connections:')
  for (const c of o.connections) {
    const who = c.side === 'downloader' ? `downloader → seeder ${c.address}` : `seeder ← downloader ${c.address}`
    const detail = [c.role, c.transport, c.handshakeMs !== undefined ? `handshake ${c.handshakeMs} ms` : undefined].filter(Boolean).join(', ')
    out.info(`  ${who} (${detail}): ${describeMethod(c)}`)
  }
  out.info('downloader mseStats:')
  for (const line of table(mseStatsRows(o.downloaderStats), '  ')) out.info(line)
  out.info('seeder mseStats:')
  for (const line of table(mseStatsRows(o.seederStats), '  ')) out.info(line)
  out.info('')
  out.info(`SHA-256 of the source     ${o.sourceSha256}`)
  out.info(`SHA-256 of the download   ${o.sha256}`)
}

function passedLine (o: DemoOutcome): string {
  const length = o.torrent.length
  const methods = [...new Set(o.connections.filter(c => c.side === 'downloader').map(c => methodWord(c.method)))]
  return `demo passed: ${formatBytes(length)} downloaded over ${methods.join(' and ') || 'an unknown method'} and verified (SHA-256 equal) in ${formatDuration(o.elapsedMs)}, ${formatSpeed(averageSpeed(length, o.elapsedMs))}`
}
