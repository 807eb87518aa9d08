/**
 * The fuzzer's short pass (the full run is `npm run fuzz`) and the replay of its corpus: the seed corpus and
 * every crash reproducer in test-fixtures/fuzz/. See test/fuzz/ for what is generated and checked.
 */
import { expect } from 'chai'
import { runCampaign } from './fuzz/campaign.js'
import { loadCorpus } from './fuzz/corpus.js'
import { bufferBound } from './fuzz/oracle.js'
import { runCase } from './fuzz/run-case.js'
import type { Role } from './fuzz/shapes.js'

const ROLES: Role[] = ['responder', 'initiator']
const SHORT_PASS_INPUTS = 20_000
/** Fixed, so a failure here reproduces; the full run draws a new seed each time. */
const SHORT_PASS_SEED = 0x5eed

describe('fuzz corpus replay (test-fixtures/fuzz)', () => {
  for (const role of ROLES) {
    const corpus = loadCorpus(role)
    it(`${role}: the corpus has seeds for it`, () => {
      expect(corpus.filter(c => c.file.startsWith('seed-')).length).to.be.at.least(10)
    })
    for (const { file, entry } of corpus) {
      it(`${role}: ${file} (${entry.description})${entry.expect ? ` ends ${entry.expect}` : ''}`, () => {
        expect(entry.role).to.equal(role)
        const { outcome } = runCase(role, entry.case)
        if (entry.expect) expect(outcome).to.equal(entry.expect)
      })
    }
  }
})

describe('fuzz short pass', function () {
  this.timeout(10 * 60_000)
  for (const role of ROLES) {
    it(`${role}: ${SHORT_PASS_INPUTS} generated inputs, no invariant broken, past the key stage`, () => {
      const stats = runCampaign({
        role,
        inputs: SHORT_PASS_INPUTS,
        seed: SHORT_PASS_SEED,
        examples: loadCorpus(role).map(c => c.entry.case)
      })
      expect(stats.crashes.map(c => `${c.error}\n${JSON.stringify(c.case)}`)).to.deep.equal([])
      expect(stats.inputs).to.be.at.least(SHORT_PASS_INPUTS)
      // Depth: a good share of inputs complete, and the failures span the later stages, not only the key.
      expect(stats.outcomes['done:rc4'] ?? 0).to.be.above(SHORT_PASS_INPUTS / 20)
      expect(stats.outcomes['done:plaintext-after-mse'] ?? 0).to.be.above(0)
      const later = role === 'responder'
        ? ['failed:sync-not-found', 'failed:unknown-skey', 'failed:bad-vc', 'failed:pad-too-long', 'failed:ia-too-long', 'failed:no-common-method']
        : ['failed:sync-not-found', 'failed:method-not-offered', 'failed:pad-too-long']
      for (const outcome of later) expect(stats.outcomes[outcome] ?? 0, outcome).to.be.above(0)
      expect(stats.maxBuffered).to.be.at.most(Math.max(bufferBound(role, 'sync', 68), bufferBound(role, 'crypto-header', 0xffff)))
    })
  }
})
