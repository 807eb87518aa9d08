// Mocha's spec reporter, plus a tally: when MSE_TEST_TALLY names a file, each run appends one line
// "passed failed pending suite" to it, so .ci/run can print one closing line for all packages.
'use strict'
const fs = require('node:fs')
const Mocha = require('mocha')
const { Spec } = Mocha.reporters
const { EVENT_RUN_END } = Mocha.Runner.constants

class TallyReporter extends Spec {
  constructor (runner, options) {
    super(runner, options)
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = this.stats
      const file = process.env.MSE_TEST_TALLY
      if (file) fs.appendFileSync(file, `${passes} ${failures} ${pending} ${process.cwd()}\n`)
    })
  }
}

module.exports = TallyReporter
