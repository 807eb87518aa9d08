import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** webtorrent's modules that hold the patch's seams, by their path inside the package (see seams.ts). */
export const SEAM_MODULES = { Peer: 'lib/peer.js', ConnPool: 'lib/conn-pool.js', Torrent: 'lib/torrent.js' } as const

/**
 * The package directory when `file` is the main file of a package named `webtorrent` (any copy, any
 * version), else undefined. Cheap for every other file: only paths inside a `webtorrent` directory are read.
 */
export function webtorrentPackageDir (file: string): string | undefined {
  const dir = dirname(file)
  if (basename(dir) !== 'webtorrent') return undefined
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    if (manifest?.name !== 'webtorrent') return undefined
    return join(dir, manifest.main ?? 'index.js') === file ? dir : undefined
  } catch {
    return undefined
  }
}

/** The seam modules present in a copy (a copy that lacks one is reported by the patch, not here). */
export function seamModulesIn (dir: string): Array<[name: keyof typeof SEAM_MODULES, file: string]> {
  return Object.entries(SEAM_MODULES)
    .map(([name, path]) => [name as keyof typeof SEAM_MODULES, join(dir, path)] as [keyof typeof SEAM_MODULES, string])
    .filter(([, file]) => existsSync(file))
}
