/**
 * `node --import webtorrent-node/register app.js`: patches the `webtorrent` module itself, so an existing
 * program built on webtorrent gets MSE on TCP without code changes. Every copy of webtorrent in the process
 * is patched as it loads (webtorrent-node's own, the program's, a dependency's), and the copy the program's
 * directory resolves is patched at once even if something loaded it before us; a copy that cannot be
 * patched is reported once on stderr. The policy comes from WEBTORRENT_MSE_ENCRYPTION, else from the
 * program's own `secure` option (0 -> disabled, 1 -> preferred, 2 -> required).
 */
import { dirname } from 'node:path'
import { enableForEveryClient } from './client-state.js'
import { BadEnvironmentError, policyFromEnvironment } from './environment.js'
import { patchLoadedWebTorrent } from './patch/copies.js'
import { patchCopiesReachableFrom, patchEveryCopyLoaded } from './patch/find-copies.js'
import { upstream } from './patch/surface.js'

try {
  policyFromEnvironment()
} catch (err) {
  if (!(err instanceof BadEnvironmentError)) throw err
  // A typing mistake, not a bug: one line, and exit 2 like any usage error.
  process.stderr.write(`webtorrent-node/register: ${err.message}\n`)
  process.exit(2)
}

enableForEveryClient()
patchLoadedWebTorrent(upstream, 'webtorrent-node\'s own dependency')
patchEveryCopyLoaded()
await patchCopiesReachableFrom([process.argv[1] ? dirname(process.argv[1]) : undefined, process.cwd()])
