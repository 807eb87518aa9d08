import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

function readVersion (file: string | URL): string | undefined {
  try {
    const version = JSON.parse(readFileSync(file, 'utf8')).version
    return typeof version === 'string' ? version : undefined
  } catch {
    return undefined
  }
}

/** webtorrent-node's version (src/cli and dist/cli are both two levels below package.json). */
export function packageVersion (): string {
  return readVersion(new URL('../../package.json', import.meta.url)) ?? '0.0.0'
}

/** The installed webtorrent's version, without loading webtorrent itself. */
export function webtorrentVersion (): string | undefined {
  try {
    return readVersion(createRequire(import.meta.url).resolve('webtorrent/package.json'))
  } catch {
    return undefined
  }
}
