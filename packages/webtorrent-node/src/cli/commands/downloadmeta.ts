import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { CliError, UsageError } from '../errors.js'
import { ClientSession } from '../client-session.js'
import { ConnectionFailureWatch } from '../connection-failures.js'
import { addNetworkOptions, addOutputOptions, withListDefaults, type NetworkOptions } from '../options.js'
import { ensureOutputDirectory } from '../output-dir.js'
import type { Output } from '../output.js'
import { resolveTorrentId } from '../torrent-id.js'

export interface DownloadMetaOptions extends NetworkOptions {
  out?: string
}

export function defineDownloadMeta (program: Command, ctx: CliContext): void {
  const command = program
    .command('downloadmeta')
    .argument('<torrent-ids...>', 'magnet URIs or info hashes')
    .description('fetch the metadata of torrents from peers and save it as <info hash>.torrent')
    .option('-o, --out <dir>', 'where to write the .torrent files (default: the current directory)')
  addNetworkOptions(command)
  addOutputOptions(command)
  command.action(async (torrentIds: string[], options: DownloadMetaOptions) => {
    await runCommand(ctx, options, out => downloadMeta(torrentIds, withListDefaults(options), out))
  })
}

export async function downloadMeta (torrentIdArgs: string[], options: DownloadMetaOptions, out: Output): Promise<number> {
  const ids = await Promise.all(torrentIdArgs.map(async id => await resolveTorrentId(id)))
  const outDir = path.resolve(options.out ?? process.cwd())
  await ensureOutputDirectory(outDir)
  const { default: MemoryChunkStore } = await import('memory-chunk-store')
  const session = await ClientSession.start(options, out)
  const { client, finished, fail } = session
  const failures = new ConnectionFailureWatch(client, out, { verbose: options.verbose })
  let remaining = ids.length
  for (const id of ids) {
    // No data is wanted: an in-memory store, everything deselected (webtorrent-cli does the same).
    const torrent = client.add(id.id, { store: MemoryChunkStore, announce: options.announce.length > 0 ? options.announce : undefined, deselect: true })
    torrent.on('error', fail)
    torrent.once('infoHash', () => {
      for (const peer of options.peer) torrent.addPeer(peer)
      out.info(`fetching the metadata of ${torrent.infoHash} from peers...`)
    })
    torrent.once('metadata', () => {
      const file = path.join(outDir, `${torrent.infoHash}.torrent`)
      writeFile(file, torrent.torrentFile).then(() => {
        out.event('metadata', { infoHash: torrent.infoHash, name: torrent.name, path: file })
        out.result(`saved ${file} (${torrent.name})`)
        torrent.destroy()
        if (--remaining === 0) finished.resolve(0)
      }, (error: Error) => fail(new CliError(`cannot write ${file}: ${error.message}`, 'write-failed')))
    })
  }
  if (ids.length === 0) throw new UsageError('missing torrent id')
  return await session.run(() => failures.stop(), signal => {
    out.event('interrupted', { signal })
    out.result(`interrupted (${signal}): ${remaining} of ${ids.length} metadata still missing`)
    finished.resolve(130)
  })
}
