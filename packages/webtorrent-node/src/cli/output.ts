import debugFactory from 'debug'
import { errorCode, errorMessage } from './errors.js'

export const debug = debugFactory('mse:cli')

/** Where the CLI writes. process.stdout / process.stderr unless a caller (a test) passes others. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean, columns?: number }
  stderr: NodeJS.WritableStream
}

export interface OutputFlags {
  json?: boolean
  quiet?: boolean
}

/**
 * The three output modes every command shares:
 * - human (default): readable lines on stdout; a live display when stdout is a terminal;
 * - `--quiet`: only errors (stderr) and the final result line;
 * - `--json`: one JSON object per line on stdout (`{"event": ...}`) and nothing else there; errors also
 *   go to stderr as a readable line.
 */
export class Output {
  readonly io: CliIo
  readonly json: boolean
  readonly quiet: boolean
  /** Human output on a terminal: the live display is on. */
  readonly interactive: boolean
  private sink: ((line: string) => void) | undefined

  constructor (io: CliIo, flags: OutputFlags = {}) {
    this.io = io
    this.json = flags.json === true
    this.quiet = !this.json && flags.quiet === true
    this.interactive = !this.json && !this.quiet && io.stdout.isTTY === true
  }

  /** A JSON event line (only with --json). Undefined fields are left out. */
  event (event: string, fields: Record<string, unknown> = {}): void {
    if (!this.json) return
    this.io.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
  }

  /** Human detail: hidden by --quiet and --json. */
  info (text = ''): void {
    if (this.json || this.quiet) return
    this.print(text)
  }

  /** The final result line(s): shown even with --quiet, replaced by events with --json. */
  result (text: string): void {
    if (this.json) return
    this.print(text)
  }

  /** A non-fatal problem worth telling the user about. */
  warn (text: string): void {
    debug('warning: %s', text)
    if (this.json) {
      this.event('warning', { message: text })
      return
    }
    if (this.quiet) return
    // Under the live display, through it (above the bar, on the same terminal): a direct write to
    // stderr would be drawn over by the next frame.
    if (this.sink) this.sink(`webtorrent-mse: warning: ${text}`)
    else this.io.stderr.write(`webtorrent-mse: warning: ${text}\n`)
  }

  /** A fatal error: a clear line on stderr, and an `error` event with --json. */
  error (error: unknown, code = errorCode(error)): void {
    const message = errorMessage(error)
    debug('error %s: %s', code, message)
    this.event('error', { code, message })
    this.io.stderr.write(`webtorrent-mse: ${message}\n`)
  }

  /** While a live display is drawn, human lines go through it so they print above the bar. */
  setSink (sink: ((line: string) => void) | undefined): void {
    this.sink = sink
  }

  private print (text: string): void {
    if (this.sink) this.sink(text)
    else this.io.stdout.write(text + '\n')
  }
}
