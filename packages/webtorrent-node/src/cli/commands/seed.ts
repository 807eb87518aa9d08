import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { UsageError } from '../errors.js'
import { formatBytes, table } from '../format.js'
import { ClientSession } from '../client-session.js'
import { ConnectionFailureWatch } from '../connection-failures.js'
import { addNetworkOptions, addOutputOptions, addTransferOptions, withListDefaults, type TransferOptions } from '../options.js'
import type { Output } from '../output.js'
import { sampleTorrent } from '../progress.js'
import type { WireWatch } from '../wire-watch.js'
import { printSummary, summarizeTransfer, summaryFields } from '../summary.js'
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
  const sources = await resolveSources(inputs)

  const startedAt = Date.now()
  const session = await ClientSession.start(options, out)
  const failures = new ConnectionFailureWatch(session.client, out, { verbose: options.verbose })
  const single = sources.length === 1
  const watches = sources.map(source => startSeeding(session, source, options, out, single))

  return await session.run(() => {
    failures.stop()
    for (const watch of watches) watch.stop()
  }, signal => {
    session.finished.resolve(0)
    const summary = summarizeTransfer(watches, Date.now() - startedAt, session.client.mseStats)
    out.event('stopped', { signal, ...summaryFields(summary) })
    out.info('')
    out.info(`stopped (${signal})`)
    printSummary(out, 'seed', summary)
  })
}

/** The files and folders to seed, as absolute paths; a missing one is a usage error. */
async function resolveSources (inputs: string[]): Promise<string[]> {
  const sources: string[] = []
  for (const input of inputs) {
    const source = path.resolve(input)
    const info = await stat(source).catch(() => undefined)
    if (!info) throw new UsageError(`no such file or directory: ${input}`, 'missing-file')
    if (!info.isFile() && !info.isDirectory()) throw new UsageError(`not a file or folder: ${input}`, 'missing-file')
    sources.push(source)
  }
  return sources
}

/** Seeds one file or folder; once it is ready and the client listens, says how to reach it. */
function startSeeding (session: ClientSession, source: string, options: TransferOptions, out: Output, single: boolean): WireWatch {
  // --announce decides the .torrent's trackers; --no-tracker without any leaves them out entirely
  // (otherwise create-torrent's default public trackers go in, as with webtorrent-cli).
  const announceList = options.announce.length > 0
    ? options.announce.map(url => [url])
    : options.tracker ? undefined : []
  const torrent = session.client.seed(source, { announceList })
  const watch = session.follow(torrent, options)
  torrent.once('ready', () => {
    void session.listening.then(port => {
      if (session.finished.settled()) return
      announceSeeding(torrent, source, port, options, out)
      if (single) session.showProgress('seed', () => sampleTorrent(torrent, watch))
    })
  })
  return watch
}

function announceSeeding (torrent: any, source: string, port: number, options: TransferOptions, out: Output): void {
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
    return
  }
  out.info(`seeding ${torrent.name} (${formatBytes(torrent.length)}, ${torrent.files.length} file${torrent.files.length === 1 ? '' : 's'})`)
  for (const line of table([
    ['info hash', torrent.infoHash],
    ['magnet', torrent.magnetURI],
    ['port', `${port}, encryption ${options.encryption}`]
  ], '  ')) out.info(line)
  out.info('press Ctrl+C to stop')
}
