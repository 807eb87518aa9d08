import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { CliError, UsageError } from '../errors.js'
import { formatBytes, formatDuration } from '../format.js'
import { ClientSession } from '../client-session.js'
import { ConnectionFailureWatch } from '../connection-failures.js'
import { addNetworkOptions, addOutputOptions, addTransferOptions, withListDefaults, type TransferOptions } from '../options.js'
import { ensureOutputDirectory } from '../output-dir.js'
import { debug, type Output } from '../output.js'
import { peerKey } from '../peers.js'
import { checkPlayerAvailable, chosenPlayer, isNetworkPlayer, startPlayer } from '../players.js'
import { sampleTorrent } from '../progress.js'
import { chooseFile } from '../select-file.js'
import { WireWatch } from '../wire-watch.js'
import { ShellHooks } from '../shell-hooks.js'
import { StreamServer } from '../stream-server.js'
import { summaryFields, summaryLines, type TransferSummary } from '../summary.js'
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

/** Per torrent: what the download of one torrent id needs to report and finish. */
interface Job {
  id: ResolvedTorrentId
  torrent: any
  watch: WireWatch
  failures: ConnectionFailureWatch
  /** Verified bytes already on disk when the torrent became ready. */
  alreadyOnDisk: number
  done: boolean
  /** --select N: the one file downloaded. */
  onlyFile?: any
}

export async function download (torrentIdArgs: string[], options: TransferOptions, out: Output): Promise<number> {
  if (torrentIdArgs.length === 0) throw new UsageError('missing torrent id: give a magnet URI, a .torrent file or URL, or an info hash')
  if (torrentIdArgs.length > 1) {
    for (const flag of SINGLE_TORRENT_ONLY) {
      if (options[flag] !== undefined && options[flag] !== false) throw new UsageError(`--${flag} cannot be used with several torrents`)
    }
  }
  const player = chosenPlayer(options)
  checkPlayerAvailable(player)
  const streaming = player !== undefined
  const ids = await Promise.all(torrentIdArgs.map(async id => await resolveTorrentId(id)))

  // webtorrent-cli's default: the current directory, or a temporary one when streaming.
  const outDir = path.resolve(options.out ?? (streaming ? await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-')) : process.cwd()))
  await ensureOutputDirectory(outDir)
  const discovery = options.dht || options.tracker || options.lsd
  if (!discovery && options.peer.length === 0) {
    out.warn('DHT, trackers and LSD are all off and no --peer was given: only peers that connect to us can be found')
  }

  const startedAt = Date.now()
  const session = await ClientSession.start(options, out)
  const { client, finished, fail } = session
  const hooks = new ShellHooks(out)
  void session.listening.then(port => out.info(`listening on port ${port}, encryption ${options.encryption}`))
  client.on('warning', (warning: unknown) => reportWarning(out, warning))

  const server = new StreamServer(client, out)
  const serverReady = server.listen(options.port, isNetworkPlayer(player) ? '0.0.0.0' : '127.0.0.1').catch(fail)

  const jobs: Job[] = ids.map(id => startJob(id))
  const single = jobs.length === 1

  function startJob (id: ResolvedTorrentId): Job {
    // --select N (not streaming): nothing selected at first, then only that file once the metadata is in.
    const onlyFile = typeof options.select === 'number' && !streaming ? options.select : undefined
    const torrent = client.add(id.id, {
      path: outDir,
      announce: options.announce.length > 0 ? options.announce : undefined,
      deselect: onlyFile !== undefined
    })
    const watch = new WireWatch(torrent, out, { announce: options.verbose === true })
    const failures = new ConnectionFailureWatch(client, out, { infoHash: () => torrent.infoHash, verbose: options.verbose })
    const job: Job = { id, torrent, watch, failures, alreadyOnDisk: 0, done: false }
    torrent.on('error', fail)
    torrent.on('warning', (warning: unknown) => reportWarning(out, warning))
    failures.onMismatch(() => checkUsablePeers(job))

    torrent.once('infoHash', () => {
      out.event('infoHash', { infoHash: torrent.infoHash })
      out.info(`info hash ${torrent.infoHash}`)
      for (const peer of options.peer) {
        const added = torrent.addPeer(peer)
        debug('addPeer %s: %s', peer, added)
        if (!added) out.warn(`peer ${peer} was not added (invalid, blocked or a duplicate)`)
      }
      if (!hasMetadata(id)) out.info('fetching metadata from peers...')
    })

    torrent.once('ready', () => {
      job.alreadyOnDisk = Number(torrent.downloaded) || 0
      const files = torrent.files.map((file: any, index: number) => ({ index, path: path.join(torrent.path, file.path), length: file.length }))
      out.event('metadata', { name: torrent.name, infoHash: torrent.infoHash, length: torrent.length, pieceLength: torrent.pieceLength, files, alreadyOnDisk: job.alreadyOnDisk })
      if (options.select === true) {
        listFiles(out, torrent)
        finished.resolve(0)
        return
      }
      if (onlyFile !== undefined) {
        const file = torrent.files[onlyFile]
        if (!file) {
          fail(new UsageError(`there is no file with index ${onlyFile}: the torrent has ${files.length} file${files.length === 1 ? '' : 's'} (run with -s alone to list them)`, 'bad-file-index'))
          return
        }
        // webtorrent's torrent `done` needs every file: the chosen file's own `done` ends this download.
        job.onlyFile = file
        file.select()
        if (file.done) void Promise.resolve().then(async () => await onDone(job)).catch(fail)
        else file.once('done', () => { onDone(job).catch(fail) })
        out.info(`downloading ${file.path} (${formatBytes(file.length)}; file ${onlyFile} of ${torrent.name}) to ${outDir}`)
      } else {
        out.info(`downloading ${torrent.name} (${formatBytes(torrent.length)}, ${files.length} file${files.length === 1 ? '' : 's'}) to ${outDir}`)
      }
      if (job.alreadyOnDisk > 0) out.info(`${formatBytes(job.alreadyOnDisk)} already on disk (verified)`)
      if (single && !torrent.done && !job.done) session.showProgress('download', () => sampleTorrent(job.onlyFile ?? torrent, watch))
      if (streaming || options.interactiveSelect === true) void serverReady.then(() => startStreaming(job)).catch(fail)
    })

    torrent.once('done', () => { onDone(job).catch(fail) })
    return job
  }

  async function startStreaming (job: Job): Promise<void> {
    const { torrent } = job
    let index = typeof options.select === 'number' ? options.select : largestFile(torrent)
    if (options.interactiveSelect === true && torrent.files.length > 1) {
      session.stopProgress()
      index = await chooseFile(torrent.files, out)
      if (!streaming) {
        torrent.deselect(0, torrent.pieces.length - 1, 0)
        torrent.files.forEach((file: any, i: number) => i === index ? file.select() : file.deselect())
        if (single && !torrent.done) session.showProgress('download', () => sampleTorrent(torrent, job.watch))
        return
      }
    }
    const file = torrent.files[index]
    if (!file) throw new UsageError(`there is no file with index ${index}: the torrent has ${torrent.files.length} file${torrent.files.length === 1 ? '' : 's'} (run with -s alone to list them)`, 'bad-file-index')
    // Stream only what is played: the chosen file first.
    torrent.files.forEach((other: any, i: number) => { if (i !== index) other.deselect() })
    file.select()
    const urls = options.playlist === true
      ? [...torrent.files.slice(index), ...torrent.files.slice(0, index)].map((f: any) => server.urlOf(f))
      : [server.urlOf(file)]
    out.event('streaming', { player, url: urls[0], urls, file: file.path, index })
    if (player === undefined) return
    out.info(`streaming ${file.path} to ${player}: ${urls[0]}`)
    if (player === 'stdout') {
      await server.pipeFile(file, process.stdout)
      if (!options.keepSeeding) finished.resolve(0)
      return
    }
    startPlayer(player, urls, options, code => {
      out.event('player-exit', { player, code })
      out.info(`${player} exited${code !== null ? ` with code ${code}` : ''}`)
      if (options.quit) finished.resolve(0)
    }, fail)
  }

  async function onDone (job: Job): Promise<void> {
    const { torrent, watch } = job
    if (job.done) return
    job.done = true
    if (single) session.stopProgress()
    await watch.settle()
    const elapsedMs = Date.now() - startedAt
    const root = path.join(torrent.path, job.onlyFile?.path ?? torrent.name)
    const files = torrent.files.map((file: any) => ({ path: path.join(torrent.path, file.path), length: file.length }))
    const summary = summaryOf(job, elapsedMs)
    out.event('done', { name: torrent.name, infoHash: torrent.infoHash, length: torrent.length, path: root, files, ...summaryFields(summary) })
    out.info('')
    for (const line of summaryLines('download', summary)) out.info(line)
    out.info('')
    if (files.length > 1) {
      out.info(`files (${files.length}):`)
      for (const file of files.slice(0, 20)) out.info(`  ${file.path}`)
      if (files.length > 20) out.info(`  ... and ${files.length - 20} more`)
    }
    out.result(`done: ${root} (${formatBytes(received(job))} received in ${formatDuration(elapsedMs)})`)
    hooks.run('--on-done', options.onDone, { WEBTORRENT_MSE_PATH: root, WEBTORRENT_MSE_INFO_HASH: torrent.infoHash })
    if (options.keepSeeding) {
      out.event('seeding', { infoHash: torrent.infoHash, magnet: torrent.magnetURI, port: client.torrentPort })
      out.info('seeding; press Ctrl+C to stop')
      if (single) session.showProgress('seed', () => sampleTorrent(torrent, watch))
      return
    }
    // As webtorrent-cli: a player, --stdout or a client of the HTTP server keeps the program running.
    if (streaming || server.served) return
    if (jobs.every(j => j.done)) finished.resolve(0)
  }

  /**
   * Without DHT, trackers or LSD, the --peer addresses are the only peers we can reach. Once every one of
   * them has refused the only mode our policy allows (each refusal is final: the policy forbids the
   * retry), and nothing is connected, waiting longer cannot help: stop with exit 1 and say why.
   */
  function checkUsablePeers (job: Job): void {
    if (discovery || options.peer.length === 0 || job.done || job.torrent.wires.length > 0) return
    const reasons = options.peer.map(peer => job.failures.mismatched.get(peerKey(peer)))
    if (reasons.some(reason => reason === undefined)) return
    const hint = reasons.find(reason => reason?.hint)?.hint
    fail(new CliError(
      `no usable peer under --encryption ${options.encryption}: ${reasons.map(reason => reason!.message).join('; ')}` +
      (hint ? `. ${hint[0]!.toUpperCase()}${hint.slice(1)}` : ''), 'no-usable-peer'))
  }

  return await session.run(async () => {
    for (const job of jobs) {
      job.watch.stop()
      job.failures.stop()
    }
    await server.close()
    hooks.run('--on-exit', options.onExit)
    await hooks.settle()
  }, signal => {
    debug('got %s', signal)
    const elapsedMs = Date.now() - startedAt
    const unfinished = jobs.filter(job => !job.done)
    if (unfinished.length === 0) {
      const uploaded = jobs.reduce((sum, job) => sum + job.watch.payloadSent, 0)
      out.event('stopped', { signal, uploaded })
      out.info(`stopped (${signal}); uploaded ${formatBytes(uploaded)}`)
      finished.resolve(0)
      return
    }
    for (const job of unfinished) {
      const summary = summaryOf(job, elapsedMs)
      out.event('interrupted', { signal, infoHash: job.torrent.infoHash, progress: Number(job.torrent.progress) || 0, downloaded: Number(job.torrent.downloaded) || 0, ...summaryFields(summary) })
      out.info('')
      for (const line of summaryLines('download', summary)) out.info(line)
      out.result(`interrupted (${signal}) at ${((Number(job.torrent.progress) || 0) * 100).toFixed(1)}%${job.torrent.name ? `: ${job.torrent.name}` : ''}`)
    }
    finished.resolve(130)
  })

  function received (job: Job): number {
    return job.watch.payloadReceived
  }

  function summaryOf (job: Job, elapsedMs: number): TransferSummary {
    return {
      length: Number(job.torrent.length) || 0,
      received: received(job),
      alreadyOnDisk: job.alreadyOnDisk,
      uploaded: job.watch.payloadSent,
      elapsedMs,
      reports: job.watch.reports,
      stats: client.mseStats
    }
  }
}

function largestFile (torrent: any): number {
  let best = 0
  torrent.files.forEach((file: any, i: number) => { if (file.length > torrent.files[best].length) best = i })
  return best
}

/** `-s` alone: the files with their indexes, then exit (webtorrent-cli's behaviour). */
function listFiles (out: Output, torrent: any): void {
  out.event('files', { files: torrent.files.map((file: any, index: number) => ({ index, path: file.path, length: file.length })) })
  out.result('files:')
  torrent.files.forEach((file: any, index: number) => out.result(`  ${String(index).padEnd(3)} ${file.path} (${formatBytes(file.length)})`))
  out.result('select one with --select <index>, e.g. webtorrent-mse download "magnet:..." --select 0')
}
