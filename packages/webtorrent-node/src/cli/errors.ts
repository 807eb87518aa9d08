/** An error the CLI reports as one clear line and turns into an exit code. */
export class CliError extends Error {
  override readonly name: string = 'CliError'
  /** A stable, machine-readable code (the `code` of the JSON `error` event). */
  readonly code: string
  readonly exitCode: number

  constructor (message: string, code = 'failed', exitCode = 1) {
    super(message)
    this.code = code
    this.exitCode = exitCode
  }
}

/** Bad input on the command line: a missing file, an invalid torrent id. Exit code 2. */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError'

  constructor (message: string, code = 'bad-usage') {
    super(message, code, 2)
  }
}

/** The code to report for any error: ours, an mse-core `MseError`, or a Node system error. */
export function errorCode (error: unknown): string {
  if (error instanceof CliError) return error.code
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code !== '' ? code : 'error'
}

export function errorMessage (error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
