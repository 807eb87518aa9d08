import { clientOptions, type NetworkOptions } from './options.js'
import { debug, type Output } from './output.js'
import { ProgressDisplay, type ProgressKind, type ProgressSample } from './progress.js'
import { clientError, createClient, deferred, destroyClient, onTerminationSignal, whenListening, type Deferred } from './runtime.js'
import { reportWarning } from './warnings.js'
import { WireWatch } from './wire-watch.js'

/**
 * One client for the lifetime of a `download` or `seed` command: started from the command's options,
 * failed at most once (with the error shown and exit code 1), a progress display that is always stopped,
 * and on exit the signal handlers removed and the client destroyed.
 */
export class ClientSession {
  readonly finished: Deferred<number> = deferred<number>()
  /** The torrent port, once the client listens (also reported as a `listening` event). */
  readonly listening: Promise<number>
  private display: ProgressDisplay | undefined

  private constructor (readonly client: any, private readonly out: Output, options: NetworkOptions) {
    this.listening = whenListening(client).then(port => {
      out.event('listening', { port, encryption: options.encryption })
      return port
    })
    client.on('error', (error: unknown) => this.fail(clientError(error, options.torrentPort)))
  }

  static async start (options: NetworkOptions, out: Output): Promise<ClientSession> {
    return new ClientSession(await createClient(clientOptions(options)), out, options)
  }

  readonly fail = (error: unknown): void => {
    if (this.finished.settled()) return
    this.stopProgress()
    this.out.error(error)
    this.finished.resolve(1)
  }

  /**
   * Follows a torrent of this session: its errors fail the command, its warnings are shown once, its
   * connections are watched (a line each with --verbose).
   */
  follow (torrent: any, options: { verbose?: boolean }): WireWatch {
    torrent.on('error', this.fail)
    torrent.on('warning', (warning: unknown) => reportWarning(this.out, warning))
    return new WireWatch(torrent, this.out, { announce: options.verbose === true })
  }

  showProgress (kind: ProgressKind, sample: () => ProgressSample): void {
    this.stopProgress()
    this.display = new ProgressDisplay(this.out, kind, sample)
    this.display.start()
  }

  stopProgress (): void {
    this.display?.stop()
  }

  /**
   * Waits for the command to finish (or a termination signal, handed to `onSignal`), then cleans up:
   * `cleanup` (the command's own), the client destroyed (bounded), and only then the signal handlers
   * removed, so that a repeated Ctrl-C while stopping cannot kill the process before its summary.
   */
  async run (cleanup: () => void | Promise<void>, onSignal: (signal: NodeJS.Signals) => void): Promise<number> {
    const removeSignalHandlers = onTerminationSignal(signal => {
      this.stopProgress()
      debug('got %s', signal)
      onSignal(signal)
    })
    try {
      return await this.finished.promise
    } finally {
      this.stopProgress()
      await cleanup()
      await destroyClient(this.client)
      removeSignalHandlers()
    }
  }
}
