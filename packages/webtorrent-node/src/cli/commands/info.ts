import type { Command } from 'commander'
import { runCommand, type CliContext } from '../context.js'
import { formatBytes } from '../format.js'
import { addOutputOptions, type OutputOptions } from '../options.js'
import type { Output } from '../output.js'
import { resolveTorrentId } from '../torrent-id.js'

export function defineInfo (program: Command, ctx: CliContext): void {
  const command = program
    .command('info')
    .argument('<torrent-id>', '.torrent file, magnet URI or info hash')
    .description('show a .torrent file or magnet URI')
  addOutputOptions(command)
  command.action(async (torrentId: string, options: OutputOptions) => {
    await runCommand(ctx, options, out => info(torrentId, out))
  })
}

export async function info (torrentIdArg: string, out: Output): Promise<number> {
  const resolved = await resolveTorrentId(torrentIdArg, { allowUrl: false })
  const parsed = resolved.parsed!
  const { toMagnetURI } = await import('parse-torrent')
  const magnet = resolved.kind === 'magnet' ? torrentIdArg.trim() : toMagnetURI(parsed)
  const hasMetadata = parsed.files !== undefined
  const name = parsed.name ?? (typeof parsed.dn === 'string' ? parsed.dn : undefined)
  const files = (parsed.files ?? []).map(file => ({ path: file.path, length: file.length }))

  out.event('info', {
    source: resolved.kind,
    name,
    infoHash: parsed.infoHash,
    length: parsed.length ?? (typeof parsed.xl === 'number' ? parsed.xl : undefined),
    pieceLength: parsed.pieceLength,
    pieces: parsed.pieces?.length,
    private: hasMetadata ? parsed.private === true : undefined,
    created: parsed.created?.toISOString(),
    createdBy: parsed.createdBy,
    comment: parsed.comment,
    announce: parsed.announce ?? [],
    urlList: parsed.urlList ?? [],
    files: hasMetadata ? files : undefined,
    magnet
  })
  if (out.json) return 0

  const rows: Array<[string, string]> = [
    ['name', name ?? '(not in the magnet)'],
    ['info hash', parsed.infoHash]
  ]
  if (hasMetadata) {
    rows.push(
      ['size', `${formatBytes(parsed.length ?? 0)} (${parsed.length ?? 0} bytes)`],
      ['piece length', `${formatBytes(parsed.pieceLength ?? 0)} (${parsed.pieces?.length ?? 0} pieces)`],
      ['private', parsed.private === true ? 'yes' : 'no']
    )
    if (parsed.created) rows.push(['created', `${parsed.created.toISOString()}${parsed.createdBy ? ` by ${parsed.createdBy}` : ''}`])
    if (parsed.comment) rows.push(['comment', parsed.comment])
  } else {
    rows.push(['size', typeof parsed.xl === 'number' ? `${formatBytes(parsed.xl)} (from the magnet's xl)` : 'unknown until the metadata is fetched'])
  }
  const trackers = parsed.announce ?? []
  rows.push(['trackers', trackers.length === 0 ? 'none' : trackers.join('\n')])
  if ((parsed.urlList ?? []).length > 0) rows.push(['web seeds', (parsed.urlList ?? []).join('\n')])
  if (hasMetadata) {
    const width = Math.max(...files.map(file => formatBytes(file.length).length))
    rows.push([`files (${files.length})`, files.map(file => `${formatBytes(file.length).padStart(width)}  ${file.path}`).join('\n')])
  } else {
    rows.push(['files', 'unknown until the metadata is fetched'])
  }
  rows.push(['magnet', magnet])
  const keyWidth = Math.max(...rows.map(([key]) => key.length))
  for (const [key, value] of rows) {
    value.split('\n').forEach((line, i) => out.result(`${(i === 0 ? key : '').padEnd(keyWidth)}  ${line}`))
  }
  return 0
}
