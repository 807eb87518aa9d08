/**
 * Records 'uncaughtException' and 'unhandledRejection' while installed, ahead of mocha's own handlers, so
 * that a test can assert that hostile input crashed nothing (and the process does not die meanwhile).
 */
export class CrashGuard {
  readonly errors: unknown[] = []
  private readonly onError = (error: unknown): void => { this.errors.push(error) }

  install (): void {
    process.prependListener('uncaughtException', this.onError)
    process.prependListener('unhandledRejection', this.onError)
  }

  uninstall (): void {
    process.removeListener('uncaughtException', this.onError)
    process.removeListener('unhandledRejection', this.onError)
  }

  /** The recorded errors, one per line with their stacks. */
  describe (): string {
    return this.errors.map(e => (e as Error)?.stack ?? String(e)).join('\n')
  }
}

/**
 * Registers mocha hooks that fail the current test when an uncaught exception or an unhandled rejection
 * happens while it runs (on top of mocha's own handling, and without letting the process die).
 */
export function failOnUncaught (): void {
  let guard = new CrashGuard()
  beforeEach(() => {
    guard = new CrashGuard()
    guard.install()
  })
  afterEach(async () => {
    // Let late events of the test (closes, timers at 0) run before judging: one turn of the timer queue.
    await new Promise(resolve => setTimeout(resolve, 20))
    guard.uninstall()
    if (guard.errors.length > 0) throw new Error(`uncaught during the test: ${guard.describe()}`)
  })
}
