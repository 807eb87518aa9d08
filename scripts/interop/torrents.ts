/**
 * Test torrents made at test time from random data (nothing big is committed): no trackers, no
 * web seeds, not private.
 */
import { randomBytes, createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import createTorrent from 'create-torrent'
import parseTorrent from 'parse-torrent'
import type { TorrentSpec } from './peers/common.js'

export interface RandomTorrent extends TorrentSpec {
  /** The .torrent bytes. */
  torrentBuffer: Buffer
  /** The content file (single-file torrent). */
  contentPath: string
  /** Directory holding the content file. */
  contentDir: string
  size: number
  sha256: string
  pieceLength: number
}

export interface RandomTorrentOptions {
  /** Directory to write the content file and the .torrent into. */
  dir: string
  /** Content size in bytes (default 3 MiB). */
  size?: number
  /** File name (default random-<hex>.bin). */
  name?: string
  /** Piece length (default 256 KiB). */
  pieceLength?: number
  /**
   * Tracker URL list. Default none. (ctorrent refuses a metainfo file without `announce`;
   * its driver writes its own copy with a dead loopback URL, see peers/ctorrent.ts.)
   */
  announce?: string[]
}

function createTorrentAsync (path: string, opts: Record<string, unknown>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    createTorrent(path, opts, (err: Error | null, torrent: Uint8Array | undefined) => {
      if (err || !torrent) reject(err ?? new Error('create-torrent returned nothing'))
      else resolve(Buffer.from(torrent.buffer, torrent.byteOffset, torrent.byteLength))
    })
  })
}

export async function makeRandomTorrent (opts: RandomTorrentOptions): Promise<RandomTorrent> {
  const size = opts.size ?? 3 * 1024 * 1024
  const name = opts.name ?? `random-${randomBytes(4).toString('hex')}.bin`
  const pieceLength = opts.pieceLength ?? 256 * 1024
  const contentDir = join(opts.dir, 'content')
  await mkdir(contentDir, { recursive: true })
  const contentPath = join(contentDir, name)
  const data = randomBytes(size)
  await writeFile(contentPath, data)
  const torrentBuffer = await createTorrentAsync(contentPath, {
    name,
    announceList: opts.announce ? [opts.announce] : [],
    urlList: [],
    private: false,
    pieceLength,
    createdBy: 'mse-interop',
    comment: 'interop test torrent',
  })
  const torrentPath = join(opts.dir, `${name}.torrent`)
  await writeFile(torrentPath, torrentBuffer)
  const parsed = (await parseTorrent(torrentBuffer)) as { infoHash: string }
  return {
    torrentPath,
    torrentBuffer,
    name,
    infoHash: parsed.infoHash,
    contentPath,
    contentDir,
    size,
    sha256: createHash('sha256').update(data).digest('hex'),
    pieceLength,
  }
}
