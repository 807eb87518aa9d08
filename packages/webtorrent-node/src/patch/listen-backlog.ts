import type { Server } from 'node:net'
import { debug } from '../log.js'

/**
 * webtorrent's ConnPool starts its TCP listener inside its constructor with Node's default backlog (511),
 * where no option reaches. A burst of more connections than that (a thousand peers at once, or a flood
 * beside a legitimate peer) overflows the accept queue: Linux drops the SYNs it cannot queue, and each
 * dropped peer, legitimate or not, waits a full SYN retransmit (1 s, then 3 s) before it is even accepted,
 * however fast the handshake budget later refuses the flood.
 *
 * Linux lets listen(2) be called again on a listening socket: it only updates the backlog (capped at
 * net.core.somaxconn). Node has no public call for it, so this calls the libuv handle's `listen` (the one
 * Node's own `server.listen` calls; see patch/surface.ts). Until upstream takes a `listenBacklog` option
 * (upstream/webtorrent), this is the only way to change it without re-binding the port.
 */
export const DEFAULT_LISTEN_BACKLOG = 4096
/** listen(2) takes an int; the kernel caps it at net.core.somaxconn anyway. */
const MAX_LISTEN_BACKLOG = 65535

interface ListeningHandle { listen?: (backlog: number) => number }

export function parseListenBacklog (value: unknown): number {
  if (value === undefined) return DEFAULT_LISTEN_BACKLOG
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LISTEN_BACKLOG) {
    throw new TypeError(`listenBacklog must be an integer from 1 to ${MAX_LISTEN_BACKLOG} (got ${String(value)})`)
  }
  return value
}

/**
 * Sets the backlog of `server` now if it is listening, else once it is. Where this Node has no handle to
 * call, or listen() fails, the backlog stays what Node chose (logged under `mse:pool`).
 */
export function setListenBacklog (server: Server, backlog: number): void {
  const apply = (): void => {
    const handle = (server as unknown as { _handle?: ListeningHandle | null })._handle
    if (typeof handle?.listen !== 'function') {
      debug('listen backlog %d: the server has no handle to call; Node\'s default stays', backlog)
      return
    }
    const status = handle.listen(backlog)
    if (status !== 0) debug('listen backlog %d: listen() failed (%d); Node\'s default stays', backlog, status)
    else debug('listen backlog %d', backlog)
  }
  if (server.listening) apply()
  else server.once('listening', apply)
}
