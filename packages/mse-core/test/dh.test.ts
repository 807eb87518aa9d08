import { createDiffieHellman, getDiffieHellman } from 'node:crypto'
import { expect } from 'chai'
import {
  DH_PRIME_HEX, KEY_LENGTH, generatePrivateKey, isValidPeerKey, nodeCryptoProvider
} from '../src/index.js'
import { forgeCryptoProvider } from '../src/forge.js'
import { P, P_HEX, drbg, fromBig, hex, modPow, refPublicKey, refSecret, toBig } from 'test-support'

const providers = [nodeCryptoProvider, forgeCryptoProvider]

/** Deterministic search: the first private key (from a seeded stream) whose public key has a leading zero byte. */
function findKeyWithLeadingZero (seed: string): Uint8Array {
  const random = drbg(seed)
  for (let attempt = 0; attempt < 20_000; attempt++) {
    const x = random(20)
    if (refPublicKey(x)[0] === 0) return x
  }
  throw new Error('no key found')
}

describe('DH: isValidPeerKey', () => {
  it('the package prime is the MSE prime from the spec (not modp1)', () => {
    expect(DH_PRIME_HEX.toLowerCase()).to.equal(P_HEX.toLowerCase())
    expect(KEY_LENGTH).to.equal(96)
    // Oakley group 1 (RFC 2409) shares the top bits but differs in the low ones.
    const modp1 = BigInt('0x' + getDiffieHellman('modp1').getPrime('hex'))
    expect(modp1).to.not.equal(P)
    expect(modp1 >> 65n).to.equal(P >> 65n)
    expect((modp1 ^ P).toString(2).length).to.equal(65)
  })

  const reject: [string, Uint8Array][] = [
    ['0', fromBig(0n)],
    ['1', fromBig(1n)],
    ['P-1', fromBig(P - 1n)],
    ['P', fromBig(P)],
    ['P+1', fromBig(P + 1n)],
    ['2^768-1 (all 0xff)', new Uint8Array(96).fill(0xff)],
    ['95 bytes', fromBig(12345n, 95)],
    ['97 bytes (valid value with an extra zero byte)', fromBig(12345n, 97)],
    ['empty', new Uint8Array(0)],
    ['20 bytes', fromBig(2n, 20)]
  ]
  for (const [name, key] of reject) {
    it(`rejects ${name}`, () => {
      expect(isValidPeerKey(key)).to.equal(false)
    })
  }

  const accept: [string, Uint8Array][] = [
    ['2', fromBig(2n)],
    ['3', fromBig(3n)],
    ['P-2', fromBig(P - 2n)],
    ['a real public key', refPublicKey(drbg('dh-accept')(20))]
  ]
  for (const [name, key] of accept) {
    it(`accepts ${name}`, () => {
      expect(isValidPeerKey(key)).to.equal(true)
    })
  }
})

describe('DH: providers agree with a BigInt reference', () => {
  it('public keys and secrets for random keys: node:crypto = node-forge = BigInt modPow, always 96 bytes', () => {
    const random = drbg('dh-agree')
    for (let trial = 0; trial < 12; trial++) {
      const xa = random(20)
      const xb = random(trial % 3 === 0 ? 96 : 20) // long private keys too (upstream used 768-bit ones)
      const ya = refPublicKey(xa)
      const yb = refPublicKey(xb)
      const s = refSecret(xa, yb)
      expect(hex(refSecret(xb, ya))).to.equal(hex(s))
      for (const provider of providers) {
        const pa = provider.dhPublicKey(xa)
        const pb = provider.dhPublicKey(xb)
        expect(pa.length, provider.name).to.equal(96)
        expect(pb.length, provider.name).to.equal(96)
        expect(hex(pa), `${provider.name} Ya, trial ${trial}`).to.equal(hex(ya))
        expect(hex(pb), `${provider.name} Yb, trial ${trial}`).to.equal(hex(yb))
        const sa = provider.dhSharedSecret(xa, yb)
        const sb = provider.dhSharedSecret(xb, ya)
        expect(sa.length).to.equal(96)
        expect(hex(sa), `${provider.name} S (A), trial ${trial}`).to.equal(hex(s))
        expect(hex(sb), `${provider.name} S (B), trial ${trial}`).to.equal(hex(s))
      }
    }
  })

  it('the reference modPow itself is sane (small cases and Fermat on P)', () => {
    expect(modPow(2n, 10n, 1000n)).to.equal(24n)
    expect(modPow(3n, 0n, 7n)).to.equal(1n)
    // P is prime: a^(P-1) = 1 mod P.
    expect(modPow(5n, P - 1n, P)).to.equal(1n)
    // P is a safe prime: (P-1)/2 is prime too, so 3^((P-1)/2 - 1) = 1 mod (P-1)/2.
    const q = (P - 1n) / 2n
    expect(modPow(3n, q - 1n, q)).to.equal(1n)
  })

  it('a private key with a leading zero byte works (20 bytes, first byte 0)', () => {
    const x = drbg('dh-leading-zero-private')(20)
    x[0] = 0
    x[1] = 0
    for (const provider of providers) {
      expect(hex(provider.dhPublicKey(x)), provider.name).to.equal(hex(refPublicKey(x)))
    }
  })
})

describe('DH: 96-byte encoding when the value has a leading zero byte', () => {
  it('a public key Y with a leading zero byte is still 96 bytes, left-padded, from both providers', () => {
    const x = findKeyWithLeadingZero('dh-y-leading-zero')
    const y = refPublicKey(x)
    expect(y[0]).to.equal(0)
    // Node's raw API drops the leading zero: this is what the provider must undo.
    const raw = createDiffieHellman(DH_PRIME_HEX, 'hex', 2)
    raw.setPrivateKey(Buffer.from(x))
    expect(raw.generateKeys().length).to.be.lessThan(96)
    for (const provider of providers) {
      const pub = provider.dhPublicKey(x)
      expect(pub.length, provider.name).to.equal(96)
      expect(hex(pub), provider.name).to.equal(hex(y))
    }
    // And as a peer key it is valid and usable.
    expect(isValidPeerKey(y)).to.equal(true)
    const other = drbg('dh-y-leading-zero-peer')(20)
    for (const provider of providers) {
      expect(hex(provider.dhSharedSecret(other, y)), provider.name).to.equal(hex(refSecret(other, y)))
    }
  })

  it('a shared secret S with a leading zero byte is 96 bytes, left-padded, from both providers', () => {
    const xb = drbg('dh-s-leading-zero')(20)
    const yb = refPublicKey(xb)
    const random = drbg('dh-s-leading-zero-search')
    let xa: Uint8Array | undefined
    for (let attempt = 0; attempt < 20_000 && !xa; attempt++) {
      const candidate = random(20)
      if (fromBig(modPow(toBig(yb), toBig(candidate), P))[0] === 0) xa = candidate
    }
    expect(xa, 'search found a key').to.not.equal(undefined)
    const s = refSecret(xa!, yb)
    expect(s[0]).to.equal(0)
    const ya = refPublicKey(xa!)
    for (const provider of providers) {
      const sa = provider.dhSharedSecret(xa!, yb)
      const sb = provider.dhSharedSecret(xb, ya)
      expect(sa.length, provider.name).to.equal(96)
      expect(sb.length, provider.name).to.equal(96)
      expect(hex(sa), provider.name).to.equal(hex(s))
      expect(hex(sb), provider.name).to.equal(hex(s))
    }
  })
})

describe('DH: generatePrivateKey', () => {
  it('takes 20 bytes from the random source', () => {
    const key = generatePrivateKey(drbg('gen'))
    expect(key.length).to.equal(20)
    expect(hex(key)).to.equal(hex(drbg('gen')(20)))
  })

  it('skips an all-zero draw and throws if the source only returns zeros', () => {
    let calls = 0
    const key = generatePrivateKey(n => (calls++ === 0 ? new Uint8Array(n) : new Uint8Array(n).fill(7)))
    expect(hex(key)).to.equal('07'.repeat(20))
    expect(() => generatePrivateKey(n => new Uint8Array(n))).to.throw()
  })
})
