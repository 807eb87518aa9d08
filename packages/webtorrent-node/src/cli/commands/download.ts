import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { CliError, UsageError } from '../errors.js'
import { formatBytes, formatDuration } from '../format.js'
import { ClientSession } from '../client-session.js'
import { ConnectionFailureWatch } from '../connection-failures.js'
import { addNetworkOptions, addOutputOptions, addTransferOptions, withListDefaults, type PlayerName, type TransferOptions } from '../options.js'
import { ensureOutputDirectory } from '../output-dir.js'
import { debug, type Output } from '../output.js'
import { peerKey } from '../peers.js'
import { checkPlayerAvailable, chosenPlayer, isNetworkPlayer, startPlayer } from '../players.js'
import { sampleTorrent } from '../progress.js'
import { chooseFile, largestFile, listFiles, noSuchFile } from '../select-file.js'
import type { WireWatch } from '../wire-watch.js'
import { ShellHooks } from '../shell-hooks.js'
import { StreamServer } from '../stream-server.js'
import { printSummary, summarizeTransfer, summaryFields, type TransferSummary } from '../summary.js'
import { reportWarning } from '../warnings.js'
import { hasMetadata, resolveTorrentId, type ResolvedTorrentId } from '../torrent-id.js'

export function defineDownload (program: Command, ctx: CliContext): void {
  const command = program
    .command('download', { isDefault: true })
    .argument('[torrent-ids...]', 'magnet URIs, .torrent files (paths or http URLs) or info hashes')
    .description('download torrents (the default command: webtorrent-mse <torrent-id> downloads)')
  addTransferOptions(command)
  addNetworkOptions(command)
  addOutputOptions(command)
  command.action(async (torrentIds: string[], options: TransferOptions) => {
    if (torrentIds.length === 0 && program.args.length === 0) {
      // `webtorrent-mse` alone: help, as webtorrent-cli shows it.
      program.outputHelp()
      return
    }
    await runCommand(ctx, { ...options, quiet: options.quiet === true || options.stdout === true }, out => download(torrentIds, withListDefaults(options), out))
  })
}

/** Options that make no sense with several torrents (webtorrent-cli's list). */
const SINGLE_TORRENT_ONLY = ['airplay', 'chromecast', 'dlna', 'mplayer', 'mpv', 'omx', 'vlc', 'iina', 'xbmc', 'stdout', 'select', 'subtitles', 'smplayer'] as const

export async function download (torrentIdArgs: string[], options: TransferOptions, out: Output): Promise<number> {
  checkTorrentIds(torrentIdArgs, options)
  const player = chosenPlayer(options)
  checkPlayerAvailable(player)
  const ids = await Promise.all(torrentIdArgs.map(async id => await resolveTorrentId(id)))
  const outDir = await outputDirectory(options, player !== undefined)
  warnIfNoPeerSource(options, out)

  const startedAt = Date.now()
  const session = await ClientSession.start(options, out)
  const run = new DownloadRun(session, options, out, { player, outDir, startedAt, single: ids.length === 1 })
  run.reportClient()
  run.startServer()
  for (const id of ids) run.add(id)
  return await run.untilFinished()
}

function checkTorrentIds (torrentIdArgs: string[], options: TransferOptions): void {
  if (torrentIdArgs.length === 0) throw new UsageError('missing torrent id: give a magnet URI, a .torrent file or URL, or an info hash')
  if (torrentIdArgs.length > 1) {
    for (const flag of SINGLE_TORRENT_ONLY) {
      if (options[flag] !== undefined && options[flag] !== false) throw new UsageError(`--${flag} cannot be used with several torrents`)
    }
  }
}

/** webtorrent-cli's default: the current directory, or a temporary one when streaming. */
async function outputDirectory (options: TransferOptions, streaming: boolean): Promise<string> {
  const outDir = path.resolve(options.out ?? (streaming ? await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-')) : process.cwd()))
  await ensureOutputDirectory(outDir)
  return outDir
}

function hasDiscovery (options: TransferOptions): boolean {
  return options.dht || options.tracker || options.lsd
}

function warnIfNoPeerSource (options: TransferOptions, out: Output): void {
  if (!hasDiscovery(options) && options.peer.length === 0) {
    out.warn('DHT, trackers and LSD are all off and no --peer was given: only peers that connect to us can be found')
  }
}

/** What `download` decided before the client started. */
interface DownloadPlan {
  player: PlayerName | undefined
  outDir: string
  startedAt: number
  /** One torrent id: the only one with a live progress display. */
  single: boolean
}

/** Per torrent: what the download of one torrent id needs to report and finish. */
class DownloadJob {
  /** Verified bytes already on disk when the torrent became ready. */
  alreadyOnDisk = 0
  done = false
  /** --select N: the one file downloaded. */
  onlyFile?: any
  readonly failures: ConnectionFailureWatch

  constructor (readonly id: ResolvedTorrentId, readonly torrent: any, readonly watch: WireWatch, client: any, out: Output, verbose: boolean | undefined) {
    this.failures = new ConnectionFailureWatch(client, out, { infoHash: () => torrent.infoHash, verbose })
  }

  summary (elapsedMs: number, stats: TransferSummary['stats']): TransferSummary {
    return summarizeTransfer([this.watch], elapsedMs, stats, { length: Number(this.torrent.length) || 0, alreadyOnDisk: this.alreadyOnDisk })
  }

  stop (): void {
    this.watch.stop()
    this.failures.stop()
  }
}

/**
 * One `download` command once its client runs: the torrents it added, the HTTP server players stream
 * from, the hooks; it finishes when every torrent is done (or a player quits, or a signal comes).
 */
class DownloadRun {
  private readonly jobs: DownloadJob[] = []
  private readonly hooks: ShellHooks
  private readonly server: StreamServer
  private serverReady: Promise<unknown> = Promise.resolve()

  constructor (private readonly session: ClientSession, private readonly options: TransferOptions, private readonly out: Output, private readonly plan: DownloadPlan) {
    this.hooks = new ShellHooks(out)
    this.server = new StreamServer(session.client, out)
  }

  private get streaming (): boolean {
    return this.plan.player !== undefined
  }

  reportClient (): void {
    void this.session.listening.then(port => this.out.info(`listening on port ${port}, encryption ${this.options.encryption}`))
    this.session.client.on('warning', (warning: unknown) => reportWarning(this.out, warning))
  }

  startServer (): void {
    this.serverReady = this.server.listen(this.options.port, isNetworkPlayer(this.plan.player) ? '0.0.0.0' : '127.0.0.1').catch(this.session.fail)
  }

  add (id: ResolvedTorrentId): void {
    const { client, fail } = this.session
    // --select N (not streaming): nothing selected at first, then only that file once the metadata is in.
    const onlyFile = typeof this.options.select === 'number' && !this.streaming ? this.options.select : undefined
    const torrent = client.add(id.id, {
      path: this.plan.outDir,
      announce: this.options.announce.length > 0 ? this.options.announce : undefined,
      deselect: onlyFile !== undefined
    })
    const job = new DownloadJob(id, torrent, this.session.follow(torrent, this.options), client, this.out, this.options.verbose)
    this.jobs.push(job)
    job.failures.onMismatch(() => this.checkUsablePeers(job))
    torrent.once('infoHash', () => this.onInfoHash(job))
    torrent.once('ready', () => this.onReady(job, onlyFile))
    torrent.once('done', () => { this.onDone(job).catch(fail) })
  }

  /** Waits for the end (done, failed or a signal), then cleans up; the exit code. */
  async untilFinished (): Promise<number> {
    return await this.session.run(async () => await this.cleanup(), signal => this.onSignal(signal))
  }

  private onInfoHash ({ id, torrent }: DownloadJob): void {
    this.out.event('infoHash', { infoHash: torrent.infoHash })
    this.out.info(`info hash ${torrent.infoHash}`)
    for (const peer of this.options.peer) {
      const added = torrent.addPeer(peer)
      debug('addPeer %s: %s', peer, added)
      if (!added) this.out.warn(`peer ${peer} was not added (invalid, blocked or a duplicate)`)
    }
    if (!hasMetadata(id)) this.out.info('fetching metadata from peers...')
  }

  private onReady (job: DownloadJob, onlyFile: number | undefined): void {
    const { torrent } = job
    job.alreadyOnDisk = Number(torrent.downloaded) || 0
    const files = torrent.files.map((file: any, index: number) => ({ index, path: path.join(torrent.path, file.path), length: file.length }))
    this.out.event('metadata', { name: torrent.name, infoHash: torrent.infoHash, length: torrent.length, pieceLength: torrent.pieceLength, files, alreadyOnDisk: job.alreadyOnDisk })
    if (this.options.select === true) {
      listFiles(this.out, torrent)
      this.session.finished.resolve(0)
      return
    }
    if (onlyFile !== undefined) {
      if (!this.downloadOnlyFile(job, onlyFile)) return
    } else {
      this.out.info(`downloading ${torrent.name} (${formatBytes(torrent.length)}, ${files.length} file${files.length === 1 ? '' : 's'}) to ${this.plan.outDir}`)
    }
    if (job.alreadyOnDisk > 0) this.out.info(`${formatBytes(job.alreadyOnDisk)} already on disk (verified)`)
    if (this.plan.single && !torrent.done && !job.done) this.session.showProgress('download', () => sampleTorrent(job.onlyFile ?? torrent, job.watch))
    if (this.streaming || this.options.interactiveSelect === true) void this.serverReady.then(async () => await this.startStreaming(job)).catch(this.session.fail)
  }

  /** --select N: selects file N; false (and the command failed) when there is none. */
  private downloadOnlyFile (job: DownloadJob, index: number): boolean {
    const { torrent } = job
    const file = torrent.files[index]
    if (!file) {
      this.session.fail(noSuchFile(index, torrent.files.length))
      return false
    }
    // webtorrent's torrent `done` needs every file: the chosen file's own `done` ends this download.
    job.onlyFile = file
    file.select()
    if (file.done) void Promise.resolve().then(async () => await this.onDone(job)).catch(this.session.fail)
    else file.once('done', () => { this.onDone(job).catch(this.session.fail) })
    this.out.info(`downloading ${file.path} (${formatBytes(file.length)}; file ${index} of ${torrent.name}) to ${this.plan.outDir}`)
    return true
  }

  private async startStreaming (job: DownloadJob): Promise<void> {
    const { torrent } = job
    let index = typeof this.options.select === 'number' ? this.options.select : largestFile(torrent)
    if (this.options.interactiveSelect === true && torrent.files.length > 1) {
      this.session.stopProgress()
      index = await chooseFile(torrent.files, this.out)
      if (!this.streaming) {
        this.downloadChosenFile(job, index)
        return
      }
    }
    const file = torrent.files[index]
    if (!file) throw noSuchFile(index, torrent.files.length)
    // Stream only what is played: the chosen file first.
    torrent.files.forEach((other: any, i: number) => { if (i !== index) other.deselect() })
    file.select()
    await this.play(torrent, file, index)
  }

  /** -i without a player: download only the chosen file. */
  private downloadChosenFile (job: DownloadJob, index: number): void {
    const { torrent } = job
    torrent.deselect(0, torrent.pieces.length - 1, 0)
    torrent.files.forEach((file: any, i: number) => i === index ? file.select() : file.deselect())
    if (this.plan.single && !torrent.done) this.session.showProgress('download', () => sampleTorrent(torrent, job.watch))
  }

  /** Hands the file (or, with --playlist, every file from it on) to the player, or to standard output. */
  private async play (torrent: any, file: any, index: number): Promise<void> {
    const { player } = this.plan
    const urls = this.options.playlist === true
      ? [...torrent.files.slice(index), ...torrent.files.slice(0, index)].map((f: any) => this.server.urlOf(f))
      : [this.server.urlOf(file)]
    this.out.event('streaming', { player, url: urls[0], urls, file: file.path, index })
    if (player === undefined) return
    this.out.info(`streaming ${file.path} to ${player}: ${urls[0]}`)
    if (player === 'stdout') {
      await this.server.pipeFile(file, process.stdout)
      if (!this.options.keepSeeding) this.session.finished.resolve(0)
      return
    }
    startPlayer(player, urls, this.options, code => {
      this.out.event('player-exit', { player, code })
      this.out.info(`${player} exited${code !== null ? ` with code ${code}` : ''}`)
      if (this.options.quit) this.session.finished.resolve(0)
    }, this.session.fail)
  }

  private async onDone (job: DownloadJob): Promise<void> {
    if (job.done) return
    job.done = true
    if (this.plan.single) this.session.stopProgress()
    await job.watch.settle()
    const root = this.reportDone(job)
    this.hooks.run('--on-done', this.options.onDone, { WEBTORRENT_MSE_PATH: root, WEBTORRENT_MSE_INFO_HASH: job.torrent.infoHash })
    if (this.options.keepSeeding) {
      this.keepSeeding(job)
      return
    }
    // As webtorrent-cli: a player, --stdout or a client of the HTTP server keeps the program running.
    if (this.streaming || this.server.served) return
    if (this.jobs.every(j => j.done)) this.session.finished.resolve(0)
  }

  /** The `done` event and summary of one torrent; returns the path it was saved to. */
  private reportDone (job: DownloadJob): string {
    const { torrent } = job
    const elapsedMs = Date.now() - this.plan.startedAt
    const root = path.join(torrent.path, job.onlyFile?.path ?? torrent.name)
    const files = torrent.files.map((file: any) => ({ path: path.join(torrent.path, file.path), length: file.length }))
    const summary = job.summary(elapsedMs, this.session.client.mseStats)
    this.out.event('done', { name: torrent.name, infoHash: torrent.infoHash, length: torrent.length, path: root, files, ...summaryFields(summary) })
    this.out.info('')
    printSummary(this.out, 'download', summary)
    this.out.info('')
    if (files.length > 1) {
      this.out.info(`files (${files.length}):`)
      for (const file of files.slice(0, 20)) this.out.info(`  ${file.path}`)
      if (files.length > 20) this.out.info(`  ... and ${files.length - 20} more`)
    }
    this.out.result(`done: ${root} (${formatBytes(summary.received)} received in ${formatDuration(elapsedMs)})`)
    return root
  }

  private keepSeeding ({ torrent, watch }: DownloadJob): void {
    this.out.event('seeding', { infoHash: torrent.infoHash, magnet: torrent.magnetURI, port: this.session.client.torrentPort })
    this.out.info('seeding; press Ctrl+C to stop')
    if (this.plan.single) this.session.showProgress('seed', () => sampleTorrent(torrent, watch))
  }

  /**
   * Without DHT, trackers or LSD, the --peer addresses are the only peers we can reach. Once every one of
   * them has refused the only mode our policy allows (each refusal is final: the policy forbids the
   * retry), and nothing is connected, waiting longer cannot help: stop with exit 1 and say why.
   */
  private checkUsablePeers (job: DownloadJob): void {
    const { options } = this
    if (hasDiscovery(options) || options.peer.length === 0 || job.done || job.torrent.wires.length > 0) return
    const reasons = options.peer.map(peer => job.failures.mismatched.get(peerKey(peer)))
    if (reasons.some(reason => reason === undefined)) return
    const hint = reasons.find(reason => reason?.hint)?.hint
    this.session.fail(new CliError(
      `no usable peer under --encryption ${options.encryption}: ${reasons.map(reason => reason!.message).join('; ')}` +
      (hint ? `. ${hint[0]!.toUpperCase()}${hint.slice(1)}` : ''), 'no-usable-peer'))
  }

  /** Ctrl-C, SIGTERM or SIGHUP: a summary of each unfinished torrent and exit 130; 0 when only seeding. */
  private onSignal (signal: NodeJS.Signals): void {
    const elapsedMs = Date.now() - this.plan.startedAt
    const unfinished = this.jobs.filter(job => !job.done)
    if (unfinished.length === 0) {
      const uploaded = this.jobs.reduce((sum, job) => sum + job.watch.payloadSent, 0)
      this.out.event('stopped', { signal, uploaded })
      this.out.info(`stopped (${signal}); uploaded ${formatBytes(uploaded)}`)
      this.session.finished.resolve(0)
      return
    }
    for (const job of unfinished) this.reportInterrupted(job, signal, elapsedMs)
    this.session.finished.resolve(130)
  }

  private reportInterrupted (job: DownloadJob, signal: NodeJS.Signals, elapsedMs: number): void {
    const { torrent } = job
    const summary = job.summary(elapsedMs, this.session.client.mseStats)
    const progress = Number(torrent.progress) || 0
    this.out.event('interrupted', { signal, infoHash: torrent.infoHash, progress, downloaded: Number(torrent.downloaded) || 0, ...summaryFields(summary) })
    this.out.info('')
    printSummary(this.out, 'download', summary)
    this.out.result(`interrupted (${signal}) at ${(progress * 100).toFixed(1)}%${torrent.name ? `: ${torrent.name}` : ''}`)
  }

  private async cleanup (): Promise<void> {
    for (const job of this.jobs) job.stop()
    await this.server.close()
    this.hooks.run('--on-exit', this.options.onExit)
    await this.hooks.settle()
  }
}
