/**
 * MseStream under fuzzing over real sockets (test/fuzz/): a short pass here, the 10^5-case run in
 * `npm run fuzz`. Stored reproducers (test-fixtures/fuzz/socket/) run first.
 */
import { expect } from 'chai'
import { runSocketCampaign } from './fuzz/socket-campaign.js'
import { loadSocketCorpus } from './fuzz/socket-corpus.js'

const SHORT_PASS_CASES = 200
const SHORT_PASS_SEED = 0x50c4

describe('socket fuzz short pass', function () {
  this.timeout(10 * 60_000)

  it(`${SHORT_PASS_CASES} cases (stream pairs with faults, raw peers with fuzzed flights): typed outcomes, all closed, nothing leaked`, async () => {
    const stats = await runSocketCampaign({
      cases: SHORT_PASS_CASES,
      seed: SHORT_PASS_SEED,
      examples: loadSocketCorpus().map(c => c.entry.case)
    })
    expect(stats.uncaught).to.deep.equal([])
    expect(stats.crashes.map(c => `${c.error}\n${JSON.stringify(c.case)}`)).to.deep.equal([])
    expect(stats.cases).to.be.at.least(SHORT_PASS_CASES)
    // Every socket, server and timer the campaign opened is gone.
    expect(stats.handles.after).to.deep.equal(stats.handles.before)
    // Both roles reached success and typed failures through the real stream.
    const seen = Object.keys(stats.outcomes).join('\n')
    // Two MseStreams encrypt with AES-128-CTR through the PadC/PadD extension, or RC4.
    expect(seen).to.match(/^pair ok:(rc4|aes-128-ctr) \/ ok:\1$/m)
    expect(seen).to.match(/^raw-initiator - \/ ok:/m)
    expect(seen).to.match(/^raw-initiator - \/ failed:/m)
    expect(seen).to.match(/^raw-responder ok:/m)
    expect(seen).to.match(/^raw-responder failed:/m)
  })
})
