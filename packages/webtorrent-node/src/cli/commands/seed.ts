import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { UsageError } from '../errors.js'
import { formatBytes, table } from '../format.js'
import { ClientSession } from '../client-session.js'
import { addNetworkOptions, addOutputOptions, withListDefaults, type NetworkOptions } from '../options.js'
import { debug, type Output } from '../output.js'
import { sampleTorrent } from '../progress.js'
import { WireWatch } from '../session.js'
import { summaryFields, summaryLines, type TransferSummary } from '../summary.js'

export function defineSeed (program: Command, ctx: CliContext): void {
  const command = program
    .command('seed')
    .argument('<path>', 'file or folder to seed')
    .description('seed a file or folder (until Ctrl+C)')
  addNetworkOptions(command)
  addOutputOptions(command)
  command.action(async (input: string, options: NetworkOptions) => {
    await runCommand(ctx, options, out => seed(input, withListDefaults(options), out))
  })
}

export async function seed (input: string, options: NetworkOptions, out: Output): Promise<number> {
  const source = path.resolve(input)
  const info = await stat(source).catch(() => undefined)
  if (!info) throw new UsageError(`no such file or directory: ${input}`, 'missing-file')
  if (!info.isFile() && !info.isDirectory()) throw new UsageError(`not a file or folder: ${input}`, 'missing-file')

  const startedAt = Date.now()
  const session = await ClientSession.start(options, out)
  const { client, finished, fail, listening } = session

  // --announce decides the .torrent's trackers; --no-tracker without any leaves them out entirely
  // (otherwise create-torrent's default public trackers go in, as with webtorrent-cli).
  const announceList = options.announce.length > 0
    ? options.announce.map(url => [url])
    : options.tracker ? undefined : []
  const torrent = client.seed(source, { announceList })
  torrent.on('error', fail)
  torrent.on('warning', (warning: unknown) => debug('torrent warning: %o', warning))
  const watch = new WireWatch(torrent, out)

  torrent.once('ready', () => {
    void listening.then(port => {
      if (finished.settled()) return
      out.event('seeding', {
        name: torrent.name,
        infoHash: torrent.infoHash,
        magnet: torrent.magnetURI,
        length: torrent.length,
        files: torrent.files.length,
        path: source,
        port
      })
      if (out.quiet) {
        out.result(torrent.magnetURI)
      } else {
        out.info(`seeding ${torrent.name} (${formatBytes(torrent.length)}, ${torrent.files.length} file${torrent.files.length === 1 ? '' : 's'})`)
        for (const line of table([
          ['info hash', torrent.infoHash],
          ['magnet', torrent.magnetURI],
          ['port', `${port}, encryption ${options.encryption}`]
        ], '  ')) out.info(line)
        out.info('press Ctrl+C to stop')
      }
      session.showProgress('seed', () => sampleTorrent(torrent, watch.current()))
    })
  })

  return await session.run(watch, signal => {
    debug('got %s', signal)
    finished.resolve(0)
    const summary: TransferSummary = {
      bytes: torrent.uploaded ?? 0,
      downloaded: torrent.downloaded ?? 0,
      uploaded: torrent.uploaded ?? 0,
      elapsedMs: Date.now() - startedAt,
      reports: watch.reports,
      stats: client.mseStats
    }
    out.event('stopped', { signal, ...summaryFields(summary) })
    out.info('')
    out.info(`stopped (${signal})`)
    for (const line of summaryLines('seed', summary)) out.info(line)
  })
}
