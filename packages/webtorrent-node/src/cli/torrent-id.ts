import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import parseTorrent, { type ParsedTorrent } from 'parse-torrent'
import { CliError, UsageError } from './errors.js'

export type TorrentIdKind = 'magnet' | 'info-hash' | 'torrent-file' | 'url'

export interface ResolvedTorrentId {
  kind: TorrentIdKind
  /** What to hand to `client.add`: the magnet / info hash / URL string, or the .torrent file's bytes. */
  id: string | Uint8Array
  /** Parsed form. */
  parsed?: ParsedTorrent
  /** The .torrent path, for `torrent-file`. */
  file?: string
}

const INFO_HASH = /^([a-f0-9]{40}|[a-z2-7]{32})$/i
const HINT = 'expected a magnet URI, a path to a .torrent file, an http(s) URL of one, or an info hash (40 hex characters)'
/** A .torrent served over HTTP larger than this is not a .torrent (the biggest real ones are a few MB). */
const MAX_TORRENT_FILE_BYTES = 32 * 1024 * 1024
const URL_TIMEOUT_MS = 30_000

/** 40 hex characters, or 32 base32 (BEP 9), as lower-case hex. */
function infoHashHex (text: string): string | undefined {
  if (/^[a-f0-9]{40}$/i.test(text)) return text.toLowerCase()
  if (!/^[a-z2-7]{32}$/i.test(text)) return undefined
  let bits = ''
  for (const c of text.toLowerCase()) bits += 'abcdefghijklmnopqrstuvwxyz234567'.indexOf(c).toString(2).padStart(5, '0')
  return bits.match(/.{4}/g)!.map(nibble => parseInt(nibble, 2).toString(16)).join('')
}

/** Every `xt=urn:btih:` value of a magnet: parse-torrent accepts invalid ones (non-hex, 39 characters). */
function checkMagnet (text: string): void {
  let params: URLSearchParams
  try {
    params = new URL(text).searchParams
  } catch {
    throw new UsageError(`invalid magnet URI: ${text}`, 'invalid-torrent-id')
  }
  const btih = params.getAll('xt').filter(xt => /^urn:btih:/i.test(xt)).map(xt => xt.slice('urn:btih:'.length))
  const btmh = params.getAll('xt').some(xt => /^urn:btmh:1220[a-f0-9]{64}$/i.test(xt))
  if (btih.length === 0 && !btmh) throw new UsageError(`invalid magnet URI (no BitTorrent info hash, xt=urn:btih:...): ${text}`, 'invalid-torrent-id')
  for (const hash of btih) {
    if (infoHashHex(hash) === undefined) {
      throw new UsageError(`invalid magnet URI: the info hash "${hash}" (${hash.length} characters) must be 40 hex characters or 32 base32 characters`, 'invalid-torrent-id')
    }
  }
}

async function parseTorrentFile (bytes: Uint8Array, what: string): Promise<ParsedTorrent> {
  const parsed = await parseTorrent(bytes).catch(() => undefined)
  if (!parsed?.infoHash || parsed.files === undefined) throw new UsageError(`not a valid .torrent file: ${what}`, 'invalid-torrent-file')
  return parsed
}

/** Fetches a .torrent over HTTP(S), bounded in time and size; any failure is one clear line. */
async function fetchTorrentFile (url: string): Promise<Uint8Array> {
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(URL_TIMEOUT_MS), redirect: 'follow' })
  } catch (error) {
    const cause = (error as { cause?: { code?: string, message?: string } }).cause
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${URL_TIMEOUT_MS / 1000} s` : cause?.code ?? cause?.message ?? (error as Error).message
    throw new CliError(`cannot fetch ${url}: ${reason}`, 'torrent-url-failed')
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {})
    throw new CliError(`cannot fetch ${url}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, 'torrent-url-failed')
  }
  const length = Number(response.headers.get('content-length') ?? 0)
  if (length > MAX_TORRENT_FILE_BYTES) throw new CliError(`cannot fetch ${url}: ${length} bytes is too large for a .torrent file`, 'torrent-url-failed')
  const bytes = new Uint8Array(await response.arrayBuffer())
  if (bytes.length > MAX_TORRENT_FILE_BYTES) throw new CliError(`cannot fetch ${url}: too large for a .torrent file`, 'torrent-url-failed')
  return bytes
}

/**
 * Works out what a torrent id on the command line is, and fails clearly (UsageError, CliError) on
 * anything webtorrent would not accept, instead of letting the client wait forever on garbage. URLs are
 * fetched here, so that a 404 page is an error and not a parse failure deep in webtorrent.
 */
export async function resolveTorrentId (input: string, { allowUrl = true } = {}): Promise<ResolvedTorrentId> {
  const text = input.trim()
  if (text === '') throw new UsageError(`empty torrent id: ${HINT}`, 'invalid-torrent-id')

  if (/^magnet:/i.test(text)) {
    checkMagnet(text)
    const parsed = await parseTorrent(text).catch(() => undefined)
    if (!parsed?.infoHash) throw new UsageError(`invalid magnet URI (no BitTorrent info hash, xt=urn:btih:...): ${text}`, 'invalid-torrent-id')
    return { kind: 'magnet', id: text, parsed }
  }
  if (INFO_HASH.test(text)) {
    // A fresh magnet from the normalised hash: parse-torrent keeps the typed spelling as a second xt.
    const parsed = await parseTorrent(`magnet:?xt=urn:btih:${infoHashHex(text)!}`)
    return { kind: 'info-hash', id: parsed.infoHash, parsed }
  }
  if (/^https?:\/\//i.test(text)) {
    if (!allowUrl) throw new UsageError(`a URL is not accepted here; download the .torrent file first: ${text}`, 'invalid-torrent-id')
    const bytes = await fetchTorrentFile(text)
    const parsed = await parseTorrentFile(bytes, `${text} did not answer with a .torrent file`)
    return { kind: 'url', id: bytes, parsed }
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
  return { kind: 'torrent-file', id: bytes, parsed: await parseTorrentFile(bytes, text), file }
}

/** True when the torrent id carries the metadata (no need to fetch it from peers). */
export function hasMetadata (id: ResolvedTorrentId): boolean {
  return id.parsed?.files !== undefined
}
