/**
 * Bench peers in their own processes: a TypeScript peer script bundled to plain JavaScript (types stripped,
 * its relative imports inlined, packages left as imports) and forked with an IPC channel, plus a small
 * message-waiting handle on the child.
 *
 * Why plain JavaScript on the built packages (dist), without tsx: tsx's ESM loader starts a worker thread,
 * which detaches an ArrayBuffer and trips V8's process-wide "ArrayBuffer detaching" protector, slowing every
 * typed-array byte loop (RC4 included) by a quarter (see rc4-child.mjs). The transpiled script sits in
 * scripts/bench/.build/ and its imports of the workspace packages resolve to their dist builds (`npm run
 * bench` builds them first).
 */
import { fork, spawnSync } from 'node:child_process'
import { setPriority } from 'node:os'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'

/** Bundles `source` (a .ts file URL) into scripts/bench/.build/ and returns the path of the .mjs. */
export function buildPeerScript (source: URL): string {
  const sourcePath = fileURLToPath(source)
  const script = fileURLToPath(new URL(`./.build/${basename(sourcePath, '.ts')}.mjs`, import.meta.url))
  buildSync({ entryPoints: [sourcePath], outfile: script, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' })
  return script
}

export interface Child {
  /** The first message `pick` accepts (rejects on an `{error}` message, on exit, or after `timeoutMs`). */
  message: <T>(pick: (m: any) => T | undefined) => Promise<T>
  send: (message: unknown) => void
  kill: () => void
  exited: Promise<void>
}

export interface SpawnOptions {
  execArgv?: string[]
  /** Whether the child may use OpenSSL's legacy provider (RC4); never inherited from the parent. */
  legacyProvider?: boolean
  /** How long `message` waits (default 60 s). */
  timeoutMs?: number
  /**
   * Scheduling niceness (0..19) for a party whose CPU use is not what is measured (a flood generator):
   * on a small machine it must not starve the process under test of the CPU.
   */
  nice?: number
  /**
   * CPUs the child may run on (taskset's list syntax, e.g. "0" or "1-3"), all its threads: keeps the
   * process under test and the load generators off each other's cores. Ignored where taskset is missing.
   */
  cpus?: string
}

export function spawnPeer (script: string, args: string[], options: SpawnOptions = {}): Child {
  const execArgv = [...(options.legacyProvider ? ['--openssl-legacy-provider'] : []), ...(options.execArgv ?? [])]
  const timeoutMs = options.timeoutMs ?? 60_000
  // The legacy provider only where the caller says so, whatever the parent runs with.
  const env = { ...process.env, NODE_OPTIONS: (process.env.NODE_OPTIONS ?? '').replace(/--openssl-legacy-provider/g, '') }
  const label = `${basename(script)} ${args.join(' ')}`
  const child = fork(script, args, { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  if (options.nice !== undefined && child.pid !== undefined) setPriority(child.pid, options.nice)
  if (options.cpus !== undefined && child.pid !== undefined) spawnSync('taskset', ['-a', '-p', '-c', options.cpus, String(child.pid)], { stdio: 'ignore' })
  const messages: any[] = []
  const waiters: Array<() => void> = []
  child.on('message', m => { messages.push(m); for (const w of waiters.splice(0)) w() })
  let exitCode: number | null = null
  const exited = new Promise<void>(resolve => child.once('exit', code => { exitCode = code; resolve(); for (const w of waiters.splice(0)) w() }))
  return {
    async message (pick) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        for (const m of messages) {
          if (m?.error) throw new Error(`${label}: ${m.error as string}`)
          const value = pick(m)
          if (value !== undefined) return value
        }
        if (exitCode !== null) throw new Error(`${label} exited with ${exitCode}`)
        if (Date.now() > deadline) throw new Error(`${label}: no answer within ${timeoutMs} ms`)
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, 1000)
          waiters.push(() => { clearTimeout(timer); resolve() })
        })
      }
    },
    // A child that already exited has no channel left: nothing to tell it (its exit is reported by `message`).
    send (message) { if (exitCode === null && child.connected) child.send(message as any, () => {}) },
    kill () { if (exitCode === null) child.kill() },
    exited
  }
}
