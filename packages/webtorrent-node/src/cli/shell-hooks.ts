import { spawn } from 'node:child_process'
import type { Output } from './output.js'

/** A hook may run this long before the CLI stops waiting for it on exit. */
export const HOOK_WAIT_MS = 10_000

/**
 * --on-done and --on-exit: shell commands, as in webtorrent-cli. They run with the CLI's environment
 * (stdout and stderr to the CLI's stderr, so --json stays parseable); a failure is a warning, not the
 * CLI's own failure. `settle` waits, bounded, for the ones still running before the process exits.
 */
export class ShellHooks {
  private readonly running = new Set<Promise<void>>()

  constructor (private readonly out: Output) {}

  run (flag: string, command: string | undefined, env: Record<string, string> = {}): void {
    if (!command) return
    const task = new Promise<void>(resolve => {
      const child = spawn(command, { shell: true, stdio: ['ignore', 2, 2], env: { ...process.env, ...env } })
      child.once('error', error => {
        this.out.warn(`${flag} "${command}" could not start: ${error.message}`)
        resolve()
      })
      child.once('exit', code => {
        this.out.event('hook', { flag, command, exitCode: code })
        if (code !== 0) this.out.warn(`${flag} "${command}" exited with code ${code}`)
        resolve()
      })
    })
    this.running.add(task)
    void task.finally(() => this.running.delete(task))
  }

  async settle (timeoutMs = HOOK_WAIT_MS): Promise<void> {
    if (this.running.size === 0) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all([...this.running]),
      new Promise<void>(resolve => { timer = setTimeout(resolve, timeoutMs) })
    ])
    clearTimeout(timer)
  }
}
