import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, sep } from 'node:path'

/** webtorrent's modules that hold the patch's seams, by their path inside the package (see surface.ts). */
export const SEAM_MODULES = { Peer: 'lib/peer.js', ConnPool: 'lib/conn-pool.js', Torrent: 'lib/torrent.js' } as const

/** Entry file of each `webtorrent` directory seen (undefined: not the webtorrent package). */
const entries = new Map<string, string | undefined>()

/**
 * The package directory when `file` is the entry file of a package named `webtorrent` (any copy, any
 * version, the entry from `exports` or `main`), else undefined. Cheap for every other file: only
 * directories named `webtorrent` on the file's path are looked at, and each manifest is read once.
 */
export function webtorrentPackageDir (file: string): string | undefined {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (!dir.endsWith(`${sep}webtorrent`)) continue
    if (!entries.has(dir)) entries.set(dir, entryOf(dir))
    if (entries.get(dir) === file) return dir
  }
  return undefined
}

function entryOf (dir: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    if (manifest?.name !== 'webtorrent') return undefined
    return join(dir, exportedEntry(manifest.exports) ?? manifest.main ?? 'index.js')
  } catch {
    return undefined
  }
}

/** The file `import 'webtorrent'` gets from an `exports` field in Node: the "." entry, conditions node, import, default. */
function exportedEntry (exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports
  if (!exports || typeof exports !== 'object') return undefined
  const map = exports as Record<string, unknown>
  if ('.' in map) return exportedEntry(map['.'])
  for (const condition of ['node', 'import', 'default']) {
    if (condition in map) return exportedEntry(map[condition])
  }
  return undefined
}

/** The seam modules present in a copy (a copy that lacks one is reported by the patch, not here). */
export function seamModulesIn (dir: string): Array<[name: keyof typeof SEAM_MODULES, file: string]> {
  return Object.entries(SEAM_MODULES)
    .map(([name, path]) => [name as keyof typeof SEAM_MODULES, join(dir, path)] as [keyof typeof SEAM_MODULES, string])
    .filter(([, file]) => existsSync(file))
}
