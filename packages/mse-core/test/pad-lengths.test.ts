/**
 * Flow shape: PadA, PadB, PadC and PadD lengths are uniform on 0..512, drawn from the product's CSPRNG
 * (no `random` option), with this project's extension on, so that neither fixed-size flights nor the
 * extension show in flight sizes. Read from the flight sizes an observer sees:
 *   flight 1 = 96 + PadA, flight 2 = 96 + PadB, flight 3 = 40 + 14 + PadC + 2 + len(IA), flight 4 = 14 + PadD.
 *
 * Pearson's chi-square over the 513 lengths with 10,000 handshakes per role. The critical value is for
 * p = 1e-6 (Wilson-Hilferty), so a correct implementation fails this test about once in a million runs
 * per pad; the power check below shows that it does reject the obvious wrong design (pads redrawn until
 * the extension fits).
 */
import { expect } from 'chai'
import {
  InitiatorHandshake, OFFER_LENGTH, ResponderHandshake, nodeCryptoProvider, type CryptoProvider, type HandshakeStep
} from '../src/index.js'
import { drbg } from 'test-support'
import { bittorrentHandshake, infoHashOf, makeRegistry } from './helpers/pair.js'

const HANDSHAKES = 10_000
const BINS = 513
const INFO_HASH = infoHashOf('pad lengths')
const IA = bittorrentHandshake(INFO_HASH)

/** Chi-square critical value for `df` degrees of freedom at upper-tail z (Wilson-Hilferty). */
function critical (df: number, z: number): number {
  const a = 2 / (9 * df)
  return df * (1 - a + z * Math.sqrt(a)) ** 3
}
const Z_1E6 = 4.753
const CRITICAL = critical(BINS - 1, Z_1E6)

function chiSquare (counts: number[], total: number): number {
  const expected = total / BINS
  return counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0)
}

/**
 * The product's provider (its CSPRNG, RC4, SHA-1, HMAC) with the DH exponentiations replaced by a fixed
 * key and secret: the pads do not depend on DH, and 4 x 10,000 exponentiations would cost a minute here.
 */
const FIXED_KEY = nodeCryptoProvider.dhPublicKey(drbg('pad lengths key')(20))
const FIXED_SECRET = nodeCryptoProvider.dhPublicKey(drbg('pad lengths secret')(20))
const fastDh: CryptoProvider = {
  ...nodeCryptoProvider,
  dhPublicKey: () => FIXED_KEY,
  dhSharedSecret: () => FIXED_SECRET
}

function pending (step: HandshakeStep): Uint8Array {
  if (step.status === 'failed') throw step.error
  return step.send
}

describe('pad lengths: uniform on 0..512 from the CSPRNG, 10,000 handshakes per role', function () {
  this.timeout(600_000)
  const counts = { padA: new Array<number>(BINS).fill(0), padB: new Array<number>(BINS).fill(0), padC: new Array<number>(BINS).fill(0), padD: new Array<number>(BINS).fill(0) }
  const methods: Record<string, number> = {}

  before(() => {
    const skeys = makeRegistry(INFO_HASH)
    for (let k = 0; k < HANDSHAKES; k++) {
      const a = new InitiatorHandshake({ infoHash: INFO_HASH, initialPayload: IA, provider: fastDh })
      const b = new ResponderHandshake({ skeys, provider: fastDh })
      const f1 = pending(a.start(0))
      b.start(0)
      const f2 = pending(b.receive(f1, 0))
      const f3 = pending(a.receive(f2, 0))
      const end = b.receive(f3, 0)
      const f4 = pending(end)
      const last = a.receive(f4, 0)
      if (last.status !== 'done') throw new Error(`handshake ${k} did not complete`)
      methods[last.result.method] = (methods[last.result.method] ?? 0) + 1
      counts.padA[f1.length - 96]!++
      counts.padB[f2.length - 96]!++
      counts.padC[f3.length - 56 - IA.length]!++
      counts.padD[f4.length - 14]!++
    }
  })

  for (const pad of ['padA', 'padB', 'padC', 'padD'] as const) {
    it(`${pad}: chi-square below the p = 1e-6 critical value (${CRITICAL.toFixed(0)}, 512 df); short pads present`, () => {
      const total = counts[pad].reduce((x, y) => x + y, 0)
      expect(total).to.equal(HANDSHAKES)
      const statistic = chiSquare(counts[pad], total)
      expect(statistic, `chi-square of ${pad}`).to.be.below(CRITICAL)
      // Short pads occur as often as any others: nothing is redrawn to make room for the extension.
      const short = counts[pad].slice(0, OFFER_LENGTH).reduce((x, y) => x + y, 0)
      expect(short, 'lengths below the offer size').to.be.above(0)
    })
  }

  it('between two of our peers AES-128-CTR runs unless a drawn PadC or PadD was too short for the extension', () => {
    // Expected share without the extension: 1 - (500/513) * (496/513) = 5.8%.
    const rc4 = methods.rc4 ?? 0
    expect((methods['aes-128-ctr'] ?? 0) + rc4).to.equal(HANDSHAKES)
    expect(rc4 / HANDSHAKES).to.be.within(0.04, 0.08)
  })

  it('power: the test rejects pads redrawn until the extension fits (uniform on 13..512)', () => {
    const random = drbg('power')
    const biased = new Array<number>(BINS).fill(0)
    for (let k = 0; k < HANDSHAKES; k++) {
      const r = random(2)
      biased[OFFER_LENGTH + (((r[0]! << 8) | r[1]!) % (BINS - OFFER_LENGTH))]!++
    }
    expect(chiSquare(biased, HANDSHAKES)).to.be.above(CRITICAL)
  })
})
