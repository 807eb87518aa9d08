import type { WebTorrentOptions } from '../index.js'
import { CliError } from './errors.js'
import { debug } from './output.js'

/** webtorrent-node's client class, loaded only by commands that need it (keeps --help and errors fast). */
export async function createClient (options: WebTorrentOptions): Promise<any> {
  const { default: WebTorrent } = await import('../index.js')
  return new WebTorrent(options)
}

/** A clearer message for the client errors users can act on (the port is taken, or not allowed). */
export function clientError (error: unknown, port: number | undefined): unknown {
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'EADDRINUSE') return new CliError(`torrent port ${port ?? '?'} is already in use: choose another with --torrent-port (or 0 for any free port)`, 'port-in-use')
  if (code === 'EACCES') return new CliError(`not allowed to listen on torrent port ${port ?? '?'}: choose another with --torrent-port`, 'port-not-allowed')
  return error
}

/** Resolves once the client listens (its torrent port is known). */
export function whenListening (client: any): Promise<number> {
  const port = (): number => Number(client.address()?.port ?? client.torrentPort)
  if (client.listening) return Promise.resolve(port())
  return new Promise(resolve => client.once('listening', () => resolve(port())))
}

/** Destroys a client, bounded: a peer that never closes must not keep the CLI from exiting. */
export async function destroyClient (client: any, timeoutMs = 5000): Promise<void> {
  if (!client || client.destroyed) return
  await new Promise<void>(resolve => {
    const timer = setTimeout(() => {
      debug('client destroy did not finish within %d ms', timeoutMs)
      resolve()
    }, timeoutMs)
    try {
      client.destroy((error?: Error | null) => {
        if (error) debug('client destroy: %o', error)
        clearTimeout(timer)
        resolve()
      })
    } catch (error) {
      debug('client destroy threw: %o', error)
      clearTimeout(timer)
      resolve()
    }
  })
}

export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
  settled: () => boolean
}

/** A promise settled from outside, once (later calls are ignored). */
export function deferred<T> (): Deferred<T> {
  let settle!: (value: T) => void
  let done = false
  const promise = new Promise<T>(resolve => { settle = resolve })
  return {
    promise,
    resolve: value => {
      if (done) return
      done = true
      settle(value)
    },
    settled: () => done
  }
}

const TERMINATION_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/**
 * Calls `handler` on the first SIGINT, SIGTERM or SIGHUP (a closed terminal), so the command can clean up
 * and exit itself; the returned function removes the handlers. Later signals are ignored while the
 * command stops (its shutdown is bounded by destroyClient's timeout): without a listener, a second Ctrl-C
 * would kill the process before it prints its summary.
 */
export function onTerminationSignal (handler: (signal: NodeJS.Signals) => void): () => void {
  let fired = false
  const listener = (signal: NodeJS.Signals): void => {
    if (fired) {
      debug('%s ignored: already stopping', signal)
      return
    }
    fired = true
    handler(signal)
  }
  for (const signal of TERMINATION_SIGNALS) process.on(signal, listener)
  return () => {
    for (const signal of TERMINATION_SIGNALS) process.removeListener(signal, listener)
  }
}

/** Once the command is over: a signal during the final flush must not turn a finished run into a kill. */
export function ignoreTerminationSignals (): void {
  for (const signal of TERMINATION_SIGNALS) process.on(signal, () => debug('%s ignored: exiting', signal))
}
