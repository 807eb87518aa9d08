/**
 * Module loader hooks (`module.register`, run in Node's hooks thread) for register mode: every copy of
 * webtorrent the program imports, wherever it is installed, gets the MSE patch the moment it is evaluated.
 * The main file of each copy is loaded with a few lines appended that import the copy's own seam modules
 * and hand them to `patchLoadedWebTorrent` in the main thread, before any importer of webtorrent runs.
 */
import { fileURLToPath, pathToFileURL } from 'node:url'
import { seamModulesIn, webtorrentPackageDir } from './webtorrent-package.js'

export interface LoaderHooksData {
  /** URL of the module exporting `patchLoadedWebTorrent` (the same instance register mode runs). */
  patchUrl: string
}

let patchUrl: string | undefined

export function initialize (data: LoaderHooksData): void {
  patchUrl = data.patchUrl
}

interface LoadResult { format?: string | null, source?: string | ArrayBuffer | ArrayBufferView | null, shortCircuit?: boolean }
type NextLoad = (url: string, context: unknown) => Promise<LoadResult>

export async function load (url: string, context: unknown, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context)
  if (!patchUrl || result.format !== 'module' || result.source == null || !url.startsWith('file:')) return result
  const dir = webtorrentPackageDir(fileURLToPath(url))
  if (!dir) return result
  const source = typeof result.source === 'string' ? result.source : new TextDecoder().decode(result.source as ArrayBuffer)
  return { ...result, source: source + '\n' + patchEpilogue(url, dir, patchUrl) }
}

/** Appended to a copy's main file: runs once its default export (the client class) is initialised. */
function patchEpilogue (url: string, dir: string, patch: string): string {
  const lines = [
    `import * as __mseSelf from ${JSON.stringify(url)}`,
    `import { patchLoadedWebTorrent as __msePatch } from ${JSON.stringify(patch)}`
  ]
  const modules = ['WebTorrent: __mseSelf.default']
  for (const [name, file] of seamModulesIn(dir)) {
    lines.push(`import __mse${name} from ${JSON.stringify(pathToFileURL(file).href)}`)
    modules.push(`${name}: __mse${name}`)
  }
  lines.push(`__msePatch({ ${modules.join(', ')} }, ${JSON.stringify(dir)})`)
  return lines.join('\n') + '\n'
}
