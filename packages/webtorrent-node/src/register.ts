/**
 * `node --import webtorrent-node/register app.js`: patches the `webtorrent` module itself, so an existing
 * program built on webtorrent gets MSE on TCP without code changes. The policy comes from
 * WEBTORRENT_MSE_ENCRYPTION, else from the program's own `secure` option (0 -> disabled, 1 -> preferred,
 * 2 -> required).
 */
import { enableForEveryClient } from './client-state.js'
import { installMsePatches } from './patch/install.js'

installMsePatches()
enableForEveryClient()
