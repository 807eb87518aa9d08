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
  const failure = deferred<Error>()
  const fail = (error: unknown): void => failure.resolve(error instanceof Error ? error : new Error(String(error)))
  /** Waits for `promise` unless something fails first. */
  const step = async <T>(promise: Promise<T>): Promise<T> => await Promise.race([
    promise,
    failure.promise.then(error => { throw error })
  ])

  let tmp: string | undefined
  let seeder: any
  let downloader: any
  let display: ProgressDisplay | undefined
  let seederWatch: WireWatch | undefined
  let downloaderWatch: WireWatch | undefined
  let watchdog: NodeJS.Timeout | undefined
  let downloadTorrent: any

  const deadline = setTimeout(() => {
    const progress = downloadTorrent ? ` at ${(downloadTorrent.progress * 100).toFixed(1)}% with ${downloadTorrent.numPeers} peer(s)` : ''
    fail(new CliError(`the demo did not finish within ${options.timeout} s${progress}`, 'timeout'))
  }, options.timeout * 1000)
  const removeSignalHandlers = onTerminationSignal(signal => fail(new CliError(`interrupted (${signal})`, 'interrupted', 130)))

  try {
    out.event('demo', { size: bytes, encryption: options.encryption, seederEncryption: options.seederEncryption, address: '127.0.0.1' })
    out.info(`webtorrent-mse demo: ${formatBytes(bytes)} of random data, seeded and downloaded in this process over 127.0.0.1`)
    out.info(`  seeder encryption ${options.seederEncryption}, downloader encryption ${options.encryption}; DHT, trackers, LSD, PEX, uTP and NAT mapping off`)

    tmp = await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-demo-'))
    const seedDir = path.join(tmp, 'seed')
    const downloadDir = path.join(tmp, 'download')
    await mkdir(seedDir)
    await mkdir(downloadDir)
    const sourceFile = path.join(seedDir, `demo-${options.size}MiB.bin`)
    const sourceSha256 = await step(writeRandomFile(sourceFile, bytes))
    debug('demo data in %s, sha256 %s', sourceFile, sourceSha256)

    // The seeder.
    seeder = await createClient({ ...LOOPBACK_ONLY, encryption: options.seederEncryption })
    seeder.on('error', fail)
    const port = await step(whenListening(seeder))
    out.event('listening', { side: 'seeder', port, encryption: options.seederEncryption })
    const seedTorrent = seeder.seed(sourceFile, { announceList: [] })
    seedTorrent.on('error', fail)
    seederWatch = new WireWatch(seedTorrent, out, { side: 'seeder', announce: false })
    await step(new Promise<void>(resolve => seedTorrent.once('ready', () => resolve())))
    out.event('seeding', { side: 'seeder', port, infoHash: seedTorrent.infoHash, magnet: seedTorrent.magnetURI })
    out.info(`  seeder listening on port ${port}, info hash ${seedTorrent.infoHash}`)

    // The downloader: the magnet only (the metadata comes over the encrypted wire too), one peer.
    downloader = await createClient({ ...LOOPBACK_ONLY, encryption: options.encryption })
    const transferStartedAt = Date.now()
    downloader.on('error', fail)
    const torrent = downloadTorrent = downloader.add(seedTorrent.magnetURI, { path: downloadDir })
    torrent.on('error', fail)
    downloaderWatch = new WireWatch(torrent, out, { side: 'downloader', announce: false })
    const watch = downloaderWatch
    torrent.once('infoHash', () => {
      torrent.addPeer(`127.0.0.1:${port}`)
      out.info(`  downloader dialling 127.0.0.1:${port}`)
    })
    torrent.once('ready', () => {
      display = new ProgressDisplay(out, 'download', () => sampleTorrent(torrent, watch), { side: 'downloader', plainIntervalMs: 2000 })
      display.start()
    })

    // An incompatible pair (required against disabled) never connects: say so instead of waiting.
    let firstErrorAt: number | undefined
    watchdog = setInterval(() => {
      if (torrent.wires.length > 0 || torrent.done) return
      const errors = errorCount(downloader.mseStats) + errorCount(seeder.mseStats)
      if (errors === 0) return
      firstErrorAt ??= Date.now()
      if (Date.now() - firstErrorAt < 4000) return
      fail(new CliError(
        `the downloader (encryption ${options.encryption}) could not connect to the seeder (encryption ${options.seederEncryption}): ` +
        `downloader MSE errors: ${errorsOf(downloader.mseStats)}; seeder MSE errors: ${errorsOf(seeder.mseStats)}`, 'no-connection'))
    }, 250)
    watchdog.unref()

    await step(new Promise<void>(resolve => torrent.once('done', () => resolve())))
    const elapsedMs = Date.now() - transferStartedAt
    display?.stop()
    display = undefined

    out.info(`verifying the download (SHA-256 of ${formatBytes(torrent.length)})...`)
    const downloadedFile = path.join(torrent.path, torrent.files[0].path)
    const sha256 = await step(sha256File(downloadedFile))
    const verified = sha256 === sourceSha256
    await seederWatch.settle()
    await downloaderWatch.settle()
    const connections = [
      ...downloaderWatch.reports.map(report => ({ side: 'downloader', ...report })),
      ...seederWatch.reports.map(report => ({ side: 'seeder', ...report }))
    ]
    const downloaderStats: MseStats = downloader.mseStats
    const seederStats: MseStats = seeder.mseStats

    out.event('done', {
      verified,
      sha256,
      sourceSha256,
      length: torrent.length,
      elapsedMs,
      averageSpeed: Math.round(averageSpeed(torrent.length, elapsedMs)),
      connections: connections.map(c => ({ side: c.side, ...wireFields(c) })),
      mseStats: { downloader: downloaderStats, seeder: seederStats }
    })

    out.info('')
    out.info('connections:')
    for (const c of connections) {
      const who = c.side === 'downloader' ? `downloader → seeder ${c.address}` : `seeder ← downloader ${c.address}`
      const detail = [c.role, c.transport, c.handshakeMs !== undefined ? `handshake ${c.handshakeMs} ms` : undefined].filter(Boolean).join(', ')
      out.info(`  ${who} (${detail}): ${describeMethod(c)}`)
    }
    out.info('downloader mseStats:')
    for (const line of table(mseStatsRows(downloaderStats), '  ')) out.info(line)
    out.info('seeder mseStats:')
    for (const line of table(mseStatsRows(seederStats), '  ')) out.info(line)
    out.info('')
    out.info(`SHA-256 of the source     ${sourceSha256}`)
    out.info(`SHA-256 of the download   ${sha256}`)

    if (!verified) throw new CliError('the downloaded data differs from the source (SHA-256 mismatch)', 'verify-failed')
    const methods = [...new Set(downloaderWatch.reports.map(r => methodWord(r.method)))]
    out.result(`demo passed: ${formatBytes(torrent.length)} downloaded over ${methods.join(' and ') || 'an unknown method'} and verified (SHA-256 equal) in ${formatDuration(elapsedMs)}, ${formatSpeed(averageSpeed(torrent.length, elapsedMs))}`)
    return 0
  } catch (error) {
    display?.stop()
    display = undefined
    if (error instanceof CliError) throw error
    throw new CliError(`demo failed: ${(error as Error).message}`, 'demo-failed')
  } finally {
    clearTimeout(deadline)
    if (watchdog) clearInterval(watchdog)
    display?.stop()
    seederWatch?.stop()
    downloaderWatch?.stop()
    await Promise.all([destroyClient(downloader, 3000), destroyClient(seeder, 3000)])
    removeSignalHandlers()
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch((error: unknown) => debug('cleanup of %s failed: %o', tmp, error))
  }
}
