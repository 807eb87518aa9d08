import { stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { CliError, UsageError } from '../errors.js'
import { formatBytes, table } from '../format.js'
import { addOutputOptions, parseTrackerUrl, positiveNumber, repeatable, type OutputOptions } from '../options.js'
import type { Output } from '../output.js'

export interface CreateOptions extends OutputOptions {
  out?: string
  announce?: string[]
  tracker: boolean
  private?: boolean
  name?: string
  comment?: string
  pieceLength?: number
}

export function defineCreate (program: Command, ctx: CliContext): void {
  const command = program
    .command('create')
    .argument('<input>', 'file or folder')
    .description('create a .torrent file')
    .option('-o, --out <file>', 'where to write the .torrent ("-" for stdout; default: <name>.torrent in the current directory)')
    .option('-a, --announce <url>', 'tracker URL to put in the torrent (repeatable; default: webtorrent\'s public trackers)', repeatable(parseTrackerUrl))
    .option('--no-tracker', 'put no trackers in the torrent')
    .option('--private', 'mark the torrent private (BEP 27)')
    .option('--name <name>', 'torrent name (default: the file or folder name)')
    .option('--comment <text>', 'torrent comment')
    .option('--piece-length <bytes>', 'piece length (default: chosen from the size)', value => {
      const n = positiveNumber('a power of two of at least 16384 bytes')(value)
      if (!Number.isInteger(Math.log2(n)) || n < 16384) throw new UsageError(`--piece-length ${value}: expected a power of two of at least 16384`)
      return n
    })
  addOutputOptions(command)
  command.action(async (input: string, options: CreateOptions) => {
    await runCommand(ctx, options, out => create(input, options, out, ctx.version))
  })
}

export async function create (input: string, options: CreateOptions, out: Output, version: string): Promise<number> {
  const source = path.resolve(input)
  const info = await stat(source).catch(() => undefined)
  if (!info) throw new UsageError(`no such file or directory: ${input}`, 'missing-file')
  if (options.out === '-' && options.json) throw new UsageError('-o - writes the .torrent to stdout; it cannot be combined with --json')

  const { default: createTorrent } = await import('create-torrent')
  const { default: parseTorrent, toMagnetURI } = await import('parse-torrent')
  const announce = options.announce ?? []
  const announceList = announce.length > 0
    ? announce.map(url => [url])
    : options.tracker ? undefined : []
  const torrentFile = await new Promise<Uint8Array>((resolve, reject) => {
    createTorrent(source, {
      name: options.name,
      comment: options.comment,
      private: options.private,
      pieceLength: options.pieceLength,
      announceList,
      createdBy: `webtorrent-mse/${version}`
    }, (error, torrent) => error ? reject(new CliError(`cannot create a torrent from ${input}: ${error.message}`, 'create-failed')) : resolve(torrent))
  })
  const parsed = await parseTorrent(torrentFile)

  if (options.out === '-') {
    await new Promise<void>((resolve, reject) => out.io.stdout.write(torrentFile, error => error ? reject(error) : resolve()))
    return 0
  }
  const target = path.resolve(options.out ?? `${parsed.name ?? 'torrent'}.torrent`)
  await writeFile(target, torrentFile).catch((error: unknown) => {
    throw new CliError(`cannot write ${target}: ${(error as Error).message}`, 'write-failed')
  })
  const magnet = toMagnetURI(parsed)
  out.event('created', {
    path: target,
    name: parsed.name,
    infoHash: parsed.infoHash,
    length: parsed.length,
    pieceLength: parsed.pieceLength,
    pieces: parsed.pieces?.length,
    files: parsed.files?.length,
    announce: parsed.announce,
    magnet
  })
  out.result(`wrote ${target}`)
  for (const line of table([
    ['name', parsed.name ?? ''],
    ['info hash', parsed.infoHash],
    ['size', `${formatBytes(parsed.length ?? 0)} in ${parsed.files?.length ?? 0} file${parsed.files?.length === 1 ? '' : 's'}, ${parsed.pieces?.length ?? 0} pieces of ${formatBytes(parsed.pieceLength ?? 0)}`],
    ['magnet', magnet]
  ], '  ')) out.info(line)
  return 0
}
