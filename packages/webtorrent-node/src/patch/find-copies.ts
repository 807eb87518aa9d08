import { createRequire, register } from 'node:module'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { patchLoadedWebTorrent } from './copies.js'
import type { LoaderHooksData } from './loader-hooks.js'
import type { UpstreamModules } from './upstream-types.js'
import { seamModulesIn, webtorrentPackageDir } from './webtorrent-package.js'

const require = createRequire(import.meta.url)

/**
 * Register mode: from now on, every copy of webtorrent the program loads is patched as it loads, through
 * `import` (loader hooks) or `require` (CommonJS, which on Node >= 20.19 can also load webtorrent 3).
 */
export function patchEveryCopyLoaded (): void {
  const data: LoaderHooksData = { patchUrl: import.meta.resolve('./copies.js') }
  register(import.meta.resolve('./loader-hooks.js'), { data })
  watchRequire()
}

/** `require('webtorrent')`: patch what it returned (and warn once when that cannot be done). */
function watchRequire (): void {
  const Module = require('node:module')
  const originalLoad = Module._load
  Module._load = function loadAndPatch (this: unknown, request: string, parent: unknown, isMain: boolean) {
    const exported = originalLoad.apply(this, arguments)
    if (request === 'webtorrent' || request.endsWith('/webtorrent')) {
      let dir: string | undefined
      try { dir = webtorrentPackageDir(Module._resolveFilename(request, parent, isMain)) } catch {}
      if (dir) patchRequired(exported, dir)
    }
    return exported
  }
}

/** A module's default export, whether `require` returned a namespace object or CommonJS exports. */
function defaultExport (mod: unknown): unknown {
  const namespace = mod as { __esModule?: boolean, default?: unknown, [Symbol.toStringTag]?: unknown } | null | undefined
  return namespace?.__esModule === true || namespace?.[Symbol.toStringTag] === 'Module' ? namespace.default : mod
}

function patchRequired (exported: unknown, dir: string): void {
  const modules: Record<string, unknown> = { WebTorrent: defaultExport(exported) }
  try {
    for (const [name, file] of seamModulesIn(dir)) modules[name] = defaultExport(require(file))
  } catch {
    // A seam module that cannot be required is reported as missing by the compatibility check.
  }
  patchLoadedWebTorrent(modules as Partial<UpstreamModules>, dir)
}

/**
 * The copy the program would load, resolved from its own directory and from the working directory, is
 * patched now: it may have been loaded before the hooks existed (an earlier `--import`, a preload).
 * Loading it early changes nothing for the program, which gets the same module instance.
 */
export async function patchCopiesReachableFrom (places: Array<string | undefined>): Promise<void> {
  const seen = new Set<string>()
  for (const place of places) {
    if (!place) continue
    let main: string
    try {
      main = createRequire(join(resolve(place), 'noop.js')).resolve('webtorrent')
    } catch {
      continue // no webtorrent reachable from there
    }
    const dir = webtorrentPackageDir(main)
    if (!dir || seen.has(dir)) continue
    seen.add(dir)
    const modules: Record<string, unknown> = {}
    try {
      modules.WebTorrent = (await import(pathToFileURL(main).href)).default
      for (const [name, file] of seamModulesIn(dir)) modules[name] = (await import(pathToFileURL(file).href)).default
    } catch {
      continue // a copy that does not even load: the program meets that error itself, unchanged
    }
    patchLoadedWebTorrent(modules as Partial<UpstreamModules>, dir)
  }
}
