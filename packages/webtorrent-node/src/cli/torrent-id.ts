import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import parseTorrent, { type ParsedTorrent } from 'parse-torrent'
import { UsageError } from './errors.js'

export type TorrentIdKind = 'magnet' | 'info-hash' | 'torrent-file' | 'url'

export interface ResolvedTorrentId {
  kind: TorrentIdKind
  /** What to hand to `client.add`: the magnet / info hash / URL string, or the .torrent file's bytes. */
  id: string | Uint8Array
  /** Parsed form (not for URLs, which webtorrent fetches itself). */
  parsed?: ParsedTorrent
  /** The .torrent path, for `torrent-file`. */
  file?: string
}

const INFO_HASH = /^([a-f0-9]{40}|[a-z2-7]{32})$/i
const HINT = 'expected a magnet URI, a path to a .torrent file, an http(s) URL of one, or an info hash (40 hex characters)'

/**
 * Works out what a torrent id on the command line is, and fails clearly (UsageError) on anything
 * webtorrent would not accept, instead of letting the client wait forever on garbage.
 */
export async function resolveTorrentId (input: string, { allowUrl = true } = {}): Promise<ResolvedTorrentId> {
  const text = input.trim()
  if (text === '') throw new UsageError(`empty torrent id: ${HINT}`, 'invalid-torrent-id')

  if (/^magnet:/i.test(text)) {
    const parsed = await parseTorrent(text).catch(() => undefined)
    if (!parsed?.infoHash) throw new UsageError(`invalid magnet URI (no BitTorrent info hash, xt=urn:btih:...): ${text}`, 'invalid-torrent-id')
    return { kind: 'magnet', id: text, parsed }
  }
  if (INFO_HASH.test(text)) {
    const parsed = await parseTorrent(text)
    return { kind: 'info-hash', id: parsed.infoHash, parsed }
  }
  if (/^https?:\/\//i.test(text)) {
    if (!allowUrl) throw new UsageError(`a URL is not accepted here; download the .torrent file first: ${text}`, 'invalid-torrent-id')
    return { kind: 'url', id: text }
  }

  const file = path.resolve(text)
  const info = await stat(file).catch(() => undefined)
  if (!info) {
    throw new UsageError(/\.torrent$/i.test(text) || text.includes(path.sep)
      ? `no such file: ${text}`
      : `invalid torrent id "${text}": ${HINT}`, 'invalid-torrent-id')
  }
  if (!info.isFile()) throw new UsageError(`not a .torrent file: ${text} is a directory`, 'invalid-torrent-id')
  const bytes = new Uint8Array(await readFile(file))
  const parsed = await parseTorrent(bytes).catch(() => undefined)
  if (!parsed?.infoHash || parsed.files === undefined) throw new UsageError(`not a valid .torrent file: ${text}`, 'invalid-torrent-file')
  return { kind: 'torrent-file', id: bytes, parsed, file }
}
