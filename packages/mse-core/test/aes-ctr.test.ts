import { expect } from 'chai'
import { nodeCryptoProvider, type StreamCipher } from '../src/index.js'
import { forgeCryptoProvider } from '../src/forge.js'
import { addToCounter } from '../src/crypto/aes-ctr.js'
import { concat, hex, prng, unhex } from 'test-support'

// NIST SP 800-38A, F.5.1 CTR-AES128.Encrypt.
const NIST = {
  key: '2b7e151628aed2a6abf7158809cf4f3c',
  counter: 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff',
  plaintext: '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
  ciphertext: '874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee'
}

describe('aes-128-ctr: both providers', () => {
  for (const provider of [nodeCryptoProvider, forgeCryptoProvider]) {
    const make = (key: string, counter: string): StreamCipher => provider.createAes128Ctr(unhex(key), unhex(counter))

    it(`${provider.name}: NIST SP 800-38A F.5.1, whole and in odd-sized pieces`, () => {
      expect(hex(make(NIST.key, NIST.counter).process(unhex(NIST.plaintext)))).to.equal(NIST.ciphertext)
      const cipher = make(NIST.key, NIST.counter)
      const input = unhex(NIST.plaintext)
      const pieces = [1, 15, 2, 17, 3, 26].map((n, k, all) => {
        const from = all.slice(0, k).reduce((x, y) => x + y, 0)
        return cipher.process(input.subarray(from, from + n))
      })
      expect(hex(concat(...pieces))).to.equal(NIST.ciphertext)
      expect(cipher.algorithm).to.equal('aes-128-ctr')
      expect(cipher.backend).to.equal(provider === nodeCryptoProvider ? 'openssl' : 'js')
    })

    it(`${provider.name}: the buffer contract (process copies, processInPlace overwrites, processOwned returns the result)`, () => {
      const input = unhex(NIST.plaintext)
      const before = hex(input)
      make(NIST.key, NIST.counter).process(input)
      expect(hex(input)).to.equal(before)
      const owned = input.slice()
      expect(hex(make(NIST.key, NIST.counter).processOwned(owned))).to.equal(NIST.ciphertext)
      const inPlace = input.slice()
      const same = make(NIST.key, NIST.counter).processInPlace(inPlace)
      expect(same).to.equal(inPlace)
      expect(hex(inPlace)).to.equal(NIST.ciphertext)
    })

    it(`${provider.name}: skip() and clone() at every offset of the first 40 bytes continue the same keystream`, () => {
      const zeros = new Uint8Array(64)
      const full = make(NIST.key, NIST.counter).process(zeros)
      for (let offset = 0; offset <= 40; offset++) {
        const skipped = make(NIST.key, NIST.counter)
        skipped.skip(offset)
        expect(hex(skipped.process(zeros.subarray(offset))), `skip ${offset}`).to.equal(hex(full.subarray(offset)))
        const original = make(NIST.key, NIST.counter)
        original.process(zeros.subarray(0, offset))
        const copy = original.clone()
        expect(hex(copy.process(zeros.subarray(offset))), `clone at ${offset}`).to.equal(hex(full.subarray(offset)))
        // The original is not moved by its copy.
        expect(hex(original.process(zeros.subarray(offset))), `original at ${offset}`).to.equal(hex(full.subarray(offset)))
      }
    })
  }

  it('node:crypto and node-forge agree on random keys, counters and chunkings (4 KiB each)', () => {
    const rng = prng('aes agreement')
    for (let round = 0; round < 20; round++) {
      const key = rng.bytes(16)
      // Counters near the carry boundaries of the low bytes included.
      const counter = round % 2 === 0 ? rng.bytes(16) : concat(rng.bytes(4), unhex('ffffffffffffffffffffff'), Uint8Array.of(0xf0))
      const data = rng.bytes(4096)
      const a = nodeCryptoProvider.createAes128Ctr(key, counter)
      const b = forgeCryptoProvider.createAes128Ctr(key, counter)
      let offset = 0
      const outA: Uint8Array[] = []
      const outB: Uint8Array[] = []
      while (offset < data.length) {
        const n = Math.min(1 + rng.int(700), data.length - offset)
        outA.push(a.process(data.subarray(offset, offset + n)))
        outB.push(b.process(data.subarray(offset, offset + n)))
        offset += n
      }
      expect(hex(concat(...outA)), `round ${round}`).to.equal(hex(concat(...outB)))
    }
  })

  it('addToCounter adds as one 128-bit big-endian number, carrying and wrapping', () => {
    expect(hex(addToCounter(unhex('000000000000000000000000000000ff'), 1))).to.equal('00000000000000000000000000000100')
    expect(hex(addToCounter(unhex('0000000000000000000000ffffffffff'), 2))).to.equal('00000000000000000000010000000001')
    expect(hex(addToCounter(unhex('ffffffffffffffffffffffffffffffff'), 1))).to.equal('00000000000000000000000000000000')
    expect(hex(addToCounter(unhex('01020304000000000000000000000000'), 0x1_0000_0001))).to.equal('01020304000000000000000100000001')
  })
})
