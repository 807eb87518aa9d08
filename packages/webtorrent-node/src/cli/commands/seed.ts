import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { UsageError } from '../errors.js'
import { formatBytes, table } from '../format.js'
import { ClientSession } from '../client-session.js'
import { ConnectionFailureWatch } from '../connection-failures.js'
import { addNetworkOptions, addOutputOptions, addTransferOptions, withListDefaults, type TransferOptions } from '../options.js'
import { debug, type Output } from '../output.js'
import { sampleTorrent } from '../progress.js'
import { WireWatch } from '../wire-watch.js'
import { summaryFields, summaryLines, type TransferSummary } from '../summary.js'
import { reportWarning } from '../warnings.js'
import { download } from './download.js'

export function defineSeed (program: Command, ctx: CliContext): void {
  const command = program
    .command('seed')
    .argument('<inputs...>', 'files or folders to seed; or .torrent files, magnets or info hashes, whose data (in -o or the current directory) is seeded')
    .description('seed files or folders (until Ctrl+C)')
  addTransferOptions(command)
  addNetworkOptions(command)
  addOutputOptions(command)
  command.action(async (inputs: string[], options: TransferOptions) => {
    await runCommand(ctx, options, out => seed(inputs, withListDefaults(options), out))
  })
}

/** A torrent id rather than data: webtorrent-cli hands these to its download, and so do we (seeding after). */
function isTorrentId (input: string): boolean {
  return /\.torrent$/i.test(input) || /^magnet:/i.test(input) || /^([a-f0-9]{40}|[a-z2-7]{32})$/i.test(input) || /^https?:\/\//i.test(input)
}

export async function seed (inputs: string[], options: TransferOptions, out: Output): Promise<number> {
  if (inputs.some(isTorrentId)) {
    if (!inputs.every(isTorrentId)) throw new UsageError('seed either files and folders, or torrent ids (.torrent files, magnets), not both at once')
    // The torrent's data is looked for in -o (or the current directory), verified, completed if needed, seeded.
    return await download(inputs, { ...options, keepSeeding: true }, out)
  }
  const sources: string[] = []
  for (const input of inputs) {
    const source = path.resolve(input)
    const info = await stat(source).catch(() => undefined)
    if (!info) throw new UsageError(`no such file or directory: ${input}`, 'missing-file')
    if (!info.isFile() && !info.isDirectory()) throw new UsageError(`not a file or folder: ${input}`, 'missing-file')
    sources.push(source)
  }

  const startedAt = Date.now()
  const session = await ClientSession.start(options, out)
  const { client, finished, fail, listening } = session
  const failures = new ConnectionFailureWatch(client, out, { verbose: options.verbose })
  const single = sources.length === 1

  // --announce decides the .torrent's trackers; --no-tracker without any leaves them out entirely
  // (otherwise create-torrent's default public trackers go in, as with webtorrent-cli).
  const announceList = options.announce.length > 0
    ? options.announce.map(url => [url])
    : options.tracker ? undefined : []
  const seeds = sources.map(source => {
    const torrent = client.seed(source, { announceList })
    torrent.on('error', fail)
    torrent.on('warning', (warning: unknown) => reportWarning(out, warning))
    const watch = new WireWatch(torrent, out, { announce: options.verbose === true })
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
        if (single) session.showProgress('seed', () => sampleTorrent(torrent, watch))
      })
    })
    return { torrent, watch }
  })

  return await session.run(() => {
    failures.stop()
    for (const { watch } of seeds) watch.stop()
  }, signal => {
    debug('got %s', signal)
    finished.resolve(0)
    const summary: TransferSummary = {
      length: 0,
      received: seeds.reduce((sum, s) => sum + s.watch.payloadReceived, 0),
      alreadyOnDisk: 0,
      uploaded: seeds.reduce((sum, s) => sum + s.watch.payloadSent, 0),
      elapsedMs: Date.now() - startedAt,
      reports: seeds.flatMap(s => s.watch.reports),
      stats: client.mseStats
    }
    out.event('stopped', { signal, ...summaryFields(summary) })
    out.info('')
    out.info(`stopped (${signal})`)
    for (const line of summaryLines('seed', summary)) out.info(line)
  })
}
