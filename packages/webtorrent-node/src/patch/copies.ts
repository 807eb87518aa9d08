import { exposeMseStats, installMsePatches } from './install.js'
import type { UpstreamModules } from './upstream-types.js'

/** Copies already reported, by directory: each is warned about once, however often it is loaded. */
const reported = new Set<string>()

/**
 * Register mode: patches one copy of webtorrent the program loaded (its own `node_modules/webtorrent`, or a
 * dependency's), found by the loader hooks. A copy that cannot be patched is not fatal for the program,
 * but its connections would be plaintext, so it is said once, in one line on stderr.
 */
export function patchLoadedWebTorrent (modules: Partial<UpstreamModules>, where: string): boolean {
  try {
    installMsePatches(modules as UpstreamModules)
  } catch (err) {
    if (!reported.has(where)) {
      reported.add(where)
      const reason = String((err as Error)?.message ?? err).replace(/\s+/g, ' ')
      process.stderr.write(`webtorrent-node/register: warning: the webtorrent at ${where} is NOT encrypted (not patched): ${reason}\n`)
    }
    return false
  }
  exposeMseStats(modules as UpstreamModules)
  return true
}
