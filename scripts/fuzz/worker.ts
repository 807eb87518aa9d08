/**
 * One fuzzing process, started by run.ts (one per core):
 *
 *   node --expose-gc --import tsx --conditions=source scripts/fuzz/worker.ts core <initiator|responder> <inputs> <seed> [corpus]
 *   node --expose-gc --import tsx --conditions=source scripts/fuzz/worker.ts socket <cases> <seed> [corpus]
 *
 * Progress goes to stderr; the final statistics, as one JSON line, to stdout. Crashes are written to
 * test-fixtures/fuzz/ as reproducers (their paths are in the JSON).
 */
import { runCampaign } from '../../packages/mse-core/test/fuzz/campaign.js'
import { loadCorpus, writeCrash } from '../../packages/mse-core/test/fuzz/corpus.js'
import type { Role } from '../../packages/mse-core/test/fuzz/shapes.js'
import { runSocketCampaign } from '../../packages/mse-wire/test/fuzz/socket-campaign.js'
import { loadSocketCorpus, writeSocketCrash } from '../../packages/mse-wire/test/fuzz/socket-corpus.js'

const [kind, ...args] = process.argv.slice(2)
const label = `${kind} ${kind === 'core' ? args[0] : ''}`.trim()
const progress = (done: number, total: number, ms: number, crashes: number): void => {
  process.stderr.write(`[${label}] ${done}/${total} in ${(ms / 1000).toFixed(0)} s, ${crashes} crash(es)\n`)
}

if (kind === 'core') {
  const role = args[0] as Role
  const inputs = Number(args[1])
  const withCorpus = args[3] === 'corpus'
  let reported = 0
  const stats = runCampaign({
    role,
    inputs,
    seed: Number(args[2]),
    examples: withCorpus ? loadCorpus(role).map(c => c.entry.case) : [],
    onProgress: s => {
      if (s.inputs - reported >= 100_000 || s.inputs >= inputs) {
        reported = s.inputs
        progress(s.inputs, inputs, s.ms, s.crashes.length)
      }
    }
  })
  const crashes = stats.crashes.map(c => ({ error: c.error.split('\n')[0], file: writeCrash(c) }))
  process.stdout.write(JSON.stringify({ ...stats, crashes }) + '\n')
} else if (kind === 'socket') {
  const cases = Number(args[0])
  let reported = 0
  const stats = await runSocketCampaign({
    cases,
    seed: Number(args[1]),
    concurrency: 16,
    examples: args[2] === 'corpus' ? loadSocketCorpus().map(c => c.entry.case) : [],
    onProgress: s => {
      if (s.cases - reported >= 10_000) {
        reported = s.cases
        progress(s.cases, cases, s.ms, s.crashes.length)
      }
    }
  })
  const crashes = stats.crashes.map(c => ({ error: c.error.split('\n')[0], file: writeSocketCrash(c) }))
  // A leaked socket (counted in stats.handles) would keep this process alive: exit once the line is out.
  process.stdout.write(JSON.stringify({ ...stats, crashes }) + '\n', () => process.exit(0))
} else {
  process.stderr.write('usage: worker.ts core <role> <inputs> <seed> [corpus] | socket <cases> <seed> [corpus]\n')
  process.exitCode = 2
}
