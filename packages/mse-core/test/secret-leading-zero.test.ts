/**
 * `secretHasLeadingZero`: what a caller needs to recognise peers that hash an unpadded S (libtorrent <= 2.0.12,
 * rakshasa's libtorrent), which drop exactly the handshakes whose S begins with a zero byte.
 */
import { expect } from 'chai'
import { nodeCryptoProvider, KEY_LENGTH, PRIVATE_KEY_LENGTH } from '../src/index.js'
import { drbg } from 'test-support'
import { makePair, runPair } from './helpers/pair.js'

const infoHash = new Uint8Array(20).fill(7)

describe('secretHasLeadingZero', function () {
  it('is undefined until S is known, on both sides', function () {
    const { initiator, responder } = makePair({ infoHash })
    expect(initiator.secretHasLeadingZero).to.equal(undefined)
    initiator.start(0)
    responder.start(0)
    expect(initiator.secretHasLeadingZero).to.equal(undefined)
    expect(responder.secretHasLeadingZero).to.equal(undefined)
  })

  it('says whether S begins with a zero byte, the same on both sides, over 1024 seeded handshakes', function () {
    this.timeout(60_000)
    let leadingZeros = 0
    for (let i = 0; i < 1024; i++) {
      const run = runPair({ infoHash, seedA: `A-${i}`, seedB: `B-${i}` })
      expect(run.a.status, `handshake ${i}`).to.equal('done')
      // S computed independently: A's private key is the first 20 bytes of its random stream.
      const secret = nodeCryptoProvider.dhSharedSecret(drbg(`A-${i}`)(PRIVATE_KEY_LENGTH), run.flights[2]!.subarray(0, KEY_LENGTH))
      expect(run.initiator.secretHasLeadingZero, `handshake ${i}`).to.equal(secret[0] === 0)
      expect(run.responder.secretHasLeadingZero, `handshake ${i}`).to.equal(secret[0] === 0)
      if (secret[0] === 0) leadingZeros++
    }
    // About 1024 / 256 = 4; the seeds are fixed, so this count is too.
    expect(leadingZeros).to.be.within(1, 20)
  })
})
