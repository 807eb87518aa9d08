/**
 * Which tests of a suite this mocha run will actually execute (after --grep / --fgrep / --invert
 * and .skip). Used to start slow scenarios (Transmission's 10 s unchoke cycle) concurrently in a
 * `before` hook, for the tests that are going to ask for them and no others.
 *
 * Mocha does not expose its runner to tests, so this module records it when `run()` starts (test
 * files are loaded before that). Without it (another runner), every non-pending test counts as
 * selected: a few scenarios more run, none less.
 */
import Mocha from 'mocha'

interface RunnerLike {
  _grep?: RegExp
  _invert?: boolean
}

const KEY = Symbol.for('mse-interop.current-runner')
const MARK = Symbol.for('mse-interop.runner-patched')
type G = typeof globalThis & { [KEY]?: RunnerLike }

const RunnerClass = (Mocha as unknown as { Runner?: { prototype: Record<string | symbol, unknown> } }).Runner
if (RunnerClass && !RunnerClass.prototype[MARK]) {
  const run = RunnerClass.prototype.run as (this: RunnerLike, ...args: unknown[]) => unknown
  RunnerClass.prototype.run = function (this: RunnerLike, ...args: unknown[]): unknown {
    ;(globalThis as G)[KEY] = this
    return run.apply(this, args)
  }
  RunnerClass.prototype[MARK] = true
}

export function willRun (test: Mocha.Test): boolean {
  if (test.isPending()) return false
  const runner = (globalThis as G)[KEY]
  if (!runner?._grep) return true
  const match = runner._grep.test(test.fullTitle())
  return runner._invert ? !match : match
}

/** The tests under `suite` (nested suites included) that this run will execute. */
export function selectedTests (suite: Mocha.Suite): Mocha.Test[] {
  const out: Mocha.Test[] = []
  const walk = (s: Mocha.Suite): void => {
    if (s.isPending()) return
    for (const t of s.tests) if (willRun(t)) out.push(t)
    for (const c of s.suites) walk(c)
  }
  walk(suite)
  return out
}
