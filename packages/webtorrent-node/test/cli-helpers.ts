/**
 * Runs the webtorrent-mse CLI as a child process (node --import tsx --conditions=source src/cli/main.ts,
 * or the bin launcher), collects its output, and bounds every wait. Every child started here is tracked
 * and killed by PID in `killAllChildren` (call it from an after/afterEach hook).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))
export const MAIN_TS = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
export const BIN = fileURLToPath(new URL('../bin/webtorrent-mse.js', import.meta.url))
/** Loopback only: no DHT, tracker, LSD or NAT mapping; an ephemeral HTTP server port. */
export const QUIET_FLAGS = ['--no-dht', '--no-tracker', '--no-lsd', '--no-nat', '-p', '0']
const TSX = import.meta.resolve('tsx')

const children = new Set<CliProcess>()

export interface CliOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Run through bin/webtorrent-mse.js instead of node --import tsx src/cli/main.ts. */
  viaBin?: boolean
}

export interface CliExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export class CliProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<CliExit>
  private exitInfo: CliExit | undefined
  private readonly listeners = new Set<() => void>()

  constructor (readonly args: string[], options: CliOptions = {}) {
    const argv = options.viaBin === true
      ? [BIN, ...args]
      : ['--import', TSX, '--conditions=source', MAIN_TS, ...args]
    const env = { ...process.env, ...options.env }
    delete env.DEBUG
    this.child = spawn(process.execPath, argv, { cwd: options.cwd ?? PACKAGE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { this.stdout += chunk; this.notify() })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk; this.notify() })
    this.exited = new Promise(resolve => {
      this.child.once('close', (code, signal) => {
        this.exitInfo = { code, signal }
        children.delete(this)
        this.notify()
        resolve(this.exitInfo)
      })
    })
    children.add(this)
  }

  get pid (): number | undefined {
    return this.child.pid
  }

  get running (): boolean {
    return this.exitInfo === undefined
  }

  /** Complete stdout lines. */
  lines (): string[] {
    return this.stdout.split('\n').filter((line, i, all) => line !== '' && (i < all.length - 1 || this.stdout.endsWith('\n')))
  }

  /** stdout parsed as JSON lines (throws on a line that is not JSON). */
  events (): Array<Record<string, any>> {
    return this.lines().map(line => {
      try {
        return JSON.parse(line)
      } catch {
        throw new Error(`stdout line is not JSON: ${line}`)
      }
    })
  }

  /** Waits until `check` returns something (re-checked on every output chunk), bounded by timeoutMs. */
  async waitFor<T> (what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    const now = check()
    if (now !== undefined) return now
    return await new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.listeners.delete(onOutput)
      }
      const onOutput = (): void => {
        let value: T | undefined
        try {
          value = check()
        } catch (error) {
          done()
          reject(error)
          return
        }
        if (value !== undefined) {
          done()
          resolve(value)
        } else if (!this.running) {
          done()
          reject(new Error(`process exited (${JSON.stringify(this.exitInfo)}) before ${what}\n${this.describe()}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`))
      }, timeoutMs)
      this.listeners.add(onOutput)
    })
  }

  /** Waits for the JSON event named `event` (and matching `where`). */
  async waitForEvent (event: string, timeoutMs: number, where: (e: Record<string, any>) => boolean = () => true): Promise<Record<string, any>> {
    return await this.waitFor(`a "${event}" event`, () => this.events().find(e => e.event === event && where(e)), timeoutMs)
  }

  /** Waits for the exit, bounded; kills the process (SIGKILL) and fails when it takes longer. */
  async waitForExit (timeoutMs: number): Promise<CliExit> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL')
        reject(new Error(`timed out after ${timeoutMs} ms waiting for exit of webtorrent-mse ${this.args.join(' ')}\n${this.describe()}`))
      }, timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  kill (signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, signal)
      } catch {}
    }
  }

  describe (): string {
    return `--- webtorrent-mse ${this.args.join(' ')}\n--- stdout:\n${this.stdout}\n--- stderr:\n${this.stderr}`
  }

  private notify (): void {
    for (const listener of [...this.listeners]) listener()
  }
}

/** Runs the CLI to completion (bounded) and returns its exit and output. */
export async function runCli (args: string[], timeoutMs: number, options: CliOptions = {}): Promise<CliProcess & { exit: CliExit }> {
  const cli = new CliProcess(args, options)
  const exit = await cli.waitForExit(timeoutMs)
  return Object.assign(cli, { exit })
}

/** Kills (SIGKILL, by PID) every child still running and waits, bounded, for them to go. */
export async function killAllChildren (): Promise<void> {
  const running = [...children]
  for (const cli of running) cli.kill('SIGKILL')
  await Promise.race([
    Promise.all(running.map(async cli => await cli.exited)),
    new Promise(resolve => setTimeout(resolve, 5000))
  ])
}
