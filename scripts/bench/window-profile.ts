/**
 * A CPU profile of one span of a bench peer's life (the measured burst), not of its start-up: with
 * LOAD_CPU_PROF=<dir> in the environment, `startWindowProfile(label)` starts V8's sampling profiler through
 * the inspector and the function it returns writes <dir>/<label>-<pid>.cpuprofile (open it in Chrome
 * DevTools, or summarise it with scripts/bench/profile-summary.ts). Without the variable both are no-ops.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

export async function startWindowProfile (label: string): Promise<() => Promise<void>> {
  const dir = process.env.LOAD_CPU_PROF
  if (!dir) return async () => {}
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  // 100 µs between samples (V8's default is 1 ms): a handshake is a millisecond or two of work.
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(join(dir, `${label}-${process.pid}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
  }
}
