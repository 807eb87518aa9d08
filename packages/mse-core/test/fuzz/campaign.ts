/**
 * A fuzzing campaign for one role: fast-check generates cases in batches (one seed each), every case runs
 * through run-case.ts, and a failing case is shrunk by fast-check and kept as a crash (its JSON is what goes
 * to test-fixtures/fuzz/<role>/). A crash ends its batch only: the next batch goes on with a new seed.
 */
import fc from 'fast-check'
import { runCase } from './run-case.js'
import { arbitraryFor, type FuzzCase, type Role } from './shapes.js'

export interface Crash {
  role: Role
  /** fast-check seed and path that reproduce it from the generator. */
  seed: number
  path?: string
  error: string
  case: FuzzCase
}

export interface CampaignStats {
  role: Role
  /** Cases run, including fast-check's shrinking attempts. */
  inputs: number
  wellFormed: number
  maxBuffered: number
  maxBufferedByStage: Record<string, number>
  /** How many cases ended with each outcome (`done:rc4`, `failed:bad-vc`, ...). */
  outcomes: Record<string, number>
  crashes: Crash[]
  ms: number
}

export interface CampaignOptions {
  role: Role
  inputs: number
  seed: number
  batch?: number
  /** Cases run before the generated ones (the seed corpus). */
  examples?: FuzzCase[]
  /** Stop after this many distinct crashes. */
  maxCrashes?: number
  onProgress?: (stats: CampaignStats) => void
}

export function runCampaign (options: CampaignOptions): CampaignStats {
  const { role, inputs, seed } = options
  const batch = options.batch ?? 10_000
  const maxCrashes = options.maxCrashes ?? 10
  const stats: CampaignStats = { role, inputs: 0, wellFormed: 0, maxBuffered: 0, maxBufferedByStage: {}, outcomes: {}, crashes: [], ms: 0 }
  const started = Date.now()
  const property = fc.property(arbitraryFor(role), c => {
    stats.inputs++
    const result = runCase(role, c)
    stats.outcomes[result.outcome] = (stats.outcomes[result.outcome] ?? 0) + 1
    if (result.wellFormed) stats.wellFormed++
    if (result.maxBuffered > stats.maxBuffered) stats.maxBuffered = result.maxBuffered
    for (const [stage, n] of Object.entries(result.maxBufferedByStage)) {
      if (n > (stats.maxBufferedByStage[stage] ?? -1)) stats.maxBufferedByStage[stage] = n
    }
  })
  for (let k = 0; stats.inputs < inputs && stats.crashes.length < maxCrashes; k++) {
    const numRuns = Math.min(batch, inputs - stats.inputs)
    const examples = k === 0 ? (options.examples ?? []).map(c => [c] as [FuzzCase]) : []
    const details = fc.check(property, { numRuns, seed: seed + k, examples, endOnFailure: false })
    const error = String((details.errorInstance as Error)?.message ?? details.errorInstance)
    // One crash per distinct failure: the next batches usually find the same one again.
    if (details.failed && details.counterexample && !stats.crashes.some(c => c.error === error)) {
      stats.crashes.push({
        role,
        seed: details.seed,
        path: details.counterexamplePath ?? undefined,
        error,
        case: details.counterexample[0]
      })
    }
    stats.ms = Date.now() - started
    options.onProgress?.(stats)
  }
  stats.ms = Date.now() - started
  return stats
}
