import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { CliError } from '../errors.js'
import { formatBytes, formatDuration } from '../format.js'
import { ClientSession } from '../client-session.js'
import { addNetworkOptions, addOutputOptions, withListDefaults, type NetworkOptions } from '../options.js'
import { debug, type Output } from '../output.js'
import { sampleTorrent } from '../progress.js'
import { WireWatch } from '../session.js'
import { summaryFields, summaryLines, type TransferSummary } from '../summary.js'
import { resolveTorrentId } from '../torrent-id.js'

export interface DownloadOptions extends NetworkOptions {
  out?: string
  keepSeeding?: boolean
}

export function defineDownload (program: Command, ctx: CliContext): void {
  const command = program
    .command('download')
    .argument('<torrent-id>', 'magnet URI, .torrent file (path or http URL) or info hash')
    .description('download a torrent')
    .option('-o, --out <dir>', 'download destination directory (default: the current directory)')
    .option('--keep-seeding', 'keep seeding after the download is done (until Ctrl+C)')
  addNetworkOptions(command)
  addOutputOptions(command)
  command.action(async (torrentId: string, options: DownloadOptions) => {
    await runCommand(ctx, options, out => download(torrentId, withListDefaults(options), out))
  })
}

export async function download (torrentIdArg: string, options: DownloadOptions, out: Output): Promise<number> {
  const torrentId = await resolveTorrentId(torrentIdArg)
  const outDir = path.resolve(options.out ?? process.cwd())
  await mkdir(outDir, { recursive: true }).catch((error: unknown) => {
    throw new CliError(`cannot create the output directory ${outDir}: ${(error as Error).message}`, 'bad-output-dir')
  })
  if (!options.dht && !options.tracker && !options.lsd && options.peer.length === 0 && torrentId.kind !== 'url') {
    out.warn('DHT, trackers and LSD are all off and no --peer was given: only peers that connect to us can be found')
  }

  const startedAt = Date.now()
  const session = await ClientSession.start(options, out)
  const { client, finished, fail } = session
  void session.listening.then(port => out.info(`listening on port ${port}, encryption ${options.encryption}`))

  const torrent = client.add(torrentId.id, {
    path: outDir,
    announce: options.announce.length > 0 ? options.announce : undefined
  })
  torrent.on('error', fail)
  torrent.on('warning', (warning: unknown) => debug('torrent warning: %o', warning))
  const watch = new WireWatch(torrent, out)

  torrent.once('infoHash', () => {
    out.event('infoHash', { infoHash: torrent.infoHash })
    out.info(`info hash ${torrent.infoHash}`)
    for (const peer of options.peer) {
      const added = torrent.addPeer(peer)
      debug('addPeer %s: %s', peer, added)
      if (!added) out.warn(`peer ${peer} was not added (invalid, blocked or a duplicate)`)
    }
    if (!torrent.metadata) out.info('fetching metadata from peers...')
  })

  torrent.once('ready', () => {
    const files = torrent.files.map((file: any) => ({ path: path.join(torrent.path, file.path), length: file.length }))
    out.event('metadata', { name: torrent.name, infoHash: torrent.infoHash, length: torrent.length, pieceLength: torrent.pieceLength, files })
    out.info(`downloading ${torrent.name} (${formatBytes(torrent.length)}, ${files.length} file${files.length === 1 ? '' : 's'}) to ${outDir}`)
    if (!torrent.done) session.showProgress('download', () => sampleTorrent(torrent, watch.current()))
  })

  torrent.once('done', () => {
    void (async () => {
      session.stopProgress()
      await watch.settle()
      const elapsedMs = Date.now() - startedAt
      const root = path.join(torrent.path, torrent.name)
      const files = torrent.files.map((file: any) => ({ path: path.join(torrent.path, file.path), length: file.length }))
      const summary: TransferSummary = {
        bytes: torrent.length,
        downloaded: torrent.downloaded,
        received: torrent.received,
        uploaded: torrent.uploaded,
        elapsedMs,
        reports: watch.reports,
        stats: client.mseStats
      }
      out.event('done', { name: torrent.name, infoHash: torrent.infoHash, length: torrent.length, path: root, files, ...summaryFields(summary) })
      out.info('')
      for (const line of summaryLines('download', summary)) out.info(line)
      out.info('')
      if (files.length > 1) {
        out.info(`files (${files.length}):`)
        for (const file of files.slice(0, 20)) out.info(`  ${file.path}`)
        if (files.length > 20) out.info(`  ... and ${files.length - 20} more`)
      }
      out.result(`done: ${root} (${formatBytes(torrent.length)} in ${formatDuration(elapsedMs)})`)
      if (options.keepSeeding) {
        out.event('seeding', { infoHash: torrent.infoHash, magnet: torrent.magnetURI, port: client.torrentPort })
        out.info('seeding; press Ctrl+C to stop')
        session.showProgress('seed', () => sampleTorrent(torrent, watch.current()))
      } else {
        finished.resolve(0)
      }
    })().catch(fail)
  })

  return await session.run(watch, signal => {
    debug('got %s', signal)
    if (torrent.done) {
      out.event('stopped', { signal, uploaded: torrent.uploaded })
      out.info(`stopped (${signal}); uploaded ${formatBytes(torrent.uploaded)}`)
      finished.resolve(0)
    } else {
      out.event('interrupted', { signal, progress: torrent.progress, downloaded: torrent.downloaded })
      out.result(`interrupted (${signal}) at ${(torrent.progress * 100).toFixed(1)}%`)
      finished.resolve(130)
    }
  })
}
