/**
 * What `import 'mse-core'` loads: not node-forge (the portable provider has its own entry point,
 * `mse-core/forge`) and not `debug` (the core logs nothing). Checked in a fresh process, whose CommonJS
 * module cache lists every package it loaded; the mocha process has loaded both long ago.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'

const PROBE = `
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const loaded = name => Object.keys(require.cache).some(path => path.includes('/node_modules/' + name + '/'))
await import('mse-core')
const core = { forge: loaded('node-forge'), debug: loaded('debug') }
const { forgeCryptoProvider } = await import('mse-core/forge')
console.log(JSON.stringify({ core, forge: loaded('node-forge'), name: forgeCryptoProvider.name }))
`

describe('entry points', function () {
  this.timeout(60_000)

  it('mse-core loads neither node-forge nor debug; mse-core/forge loads node-forge', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', PROBE], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
      timeout: 50_000
    })
    const report = JSON.parse(out.trim().split('\n').pop()!)
    expect(report.core).to.deep.equal({ forge: false, debug: false })
    expect(report.forge).to.equal(true)
    expect(report.name).to.equal('node-forge')
  })
})
