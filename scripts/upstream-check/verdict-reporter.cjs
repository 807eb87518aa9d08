// One line per check: "ok <title>" / "FAIL <title>: <first line of the error>" / "skip <title>", then
// "N passed, N failed" (and ", N skipped" when some were skipped). Failure details follow the summary.
'use strict'
const Mocha = require('mocha')
const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants

class VerdictReporter extends Mocha.reporters.Base {
  constructor (runner, options) {
    super(runner, options)
    const failures = []
    let passed = 0
    let skipped = 0
    const title = test => test.titlePath().join(': ')
    runner.on(EVENT_TEST_PASS, test => { passed++; console.log(`ok    ${title(test)}`) })
    runner.on(EVENT_TEST_PENDING, test => { skipped++; console.log(`skip  ${title(test)}`) })
    runner.on(EVENT_TEST_FAIL, (test, err) => {
      failures.push([test, err])
      console.log(`FAIL  ${title(test)}: ${String(err && err.message).split('\n')[0]}`)
    })
    runner.once(EVENT_RUN_END, () => {
      for (const [test, err] of failures) console.error(`\n${title(test)}\n${(err && err.stack) || err}`)
      console.log(`\n${passed} passed, ${failures.length} failed${skipped ? `, ${skipped} skipped` : ''}`)
    })
  }
}

module.exports = VerdictReporter
