/**
 * A responder that meets libtorrent <= 2.0.12 (and rakshasa's libtorrent) dialling in: those initiators
 * compute HASH('req3', S) over S without its leading zero bytes, so when S begins with a zero byte (about
 * 1 handshake in 256) the padded un-masking finds no torrent. Our responder then tries the unpadded S too,
 * and says so in the result. The buggy initiator is our own, with the bug put back through its crypto
 * provider; the keys come from seeded streams chosen so that S does (or does not) begin with a zero byte.
 */
import { expect } from 'chai'
import {
  InitiatorHandshake, PRIVATE_KEY_LENGTH, ResponderHandshake, nodeCryptoProvider,
  type CryptoProvider, type HandshakeStep
} from '../src/index.js'
import { drbg, withUnpaddedReq3 } from 'test-support'
import { makeRegistry } from './helpers/pair.js'

const infoHash = new Uint8Array(20).fill(7)
const otherInfoHash = new Uint8Array(20).fill(8)
const unpaddedReq3Provider = withUnpaddedReq3(nodeCryptoProvider)

/** The first seed pair (A-i, B-i) whose S does (or does not) begin with a zero byte. */
function seedsFor (leadingZero: boolean): { seedA: string, seedB: string } {
  // A leading zero comes once in 256 secrets: 10,000 seeds all miss with probability about e^-39.
  for (let i = 0; i < 10_000; i++) {
    const a = drbg(`A-${i}`)(PRIVATE_KEY_LENGTH)
    const b = drbg(`B-${i}`)(PRIVATE_KEY_LENGTH)
    const secret = nodeCryptoProvider.dhSharedSecret(a, nodeCryptoProvider.dhPublicKey(b))
    if ((secret[0] === 0) === leadingZero) return { seedA: `A-${i}`, seedB: `B-${i}` }
  }
  throw new Error('no seeds found')
}

/** Flights 1..4 in memory, whole. A plays another client: no extension. */
function handshake (initiatorProvider: CryptoProvider, seeds: { seedA: string, seedB: string }, served = infoHash): { a: HandshakeStep, b: HandshakeStep, responder: ResponderHandshake } {
  const initiator = new InitiatorHandshake({ infoHash, provider: initiatorProvider, random: drbg(seeds.seedA), extension: false })
  const responder = new ResponderHandshake({ skeys: makeRegistry(served), random: drbg(seeds.seedB) })
  const flight1 = initiator.start(0).send
  responder.start(0)
  const flight2 = responder.receive(flight1, 0).send
  const flight3 = initiator.receive(flight2, 0).send
  const b = responder.receive(flight3, 0)
  const a = b.status === 'done' ? initiator.receive(b.send, 0) : initiator.peerClosed()
  return { a, b, responder }
}

describe('responder: an initiator that hashes req3 over an unpadded S (libtorrent <= 2.0.12)', function () {
  this.timeout(60_000)
  const withZero = seedsFor(true)
  const withoutZero = seedsFor(false)

  it('is accepted when S begins with a zero byte, and the result says so', () => {
    const { a, b, responder } = handshake(unpaddedReq3Provider, withZero)
    expect(responder.secretHasLeadingZero).to.equal(true)
    expect(b.status === 'failed' ? b.error.code : b.status).to.equal('done')
    expect(a.status).to.equal('done')
    if (a.status !== 'done' || b.status !== 'done') return
    expect(b.result.peerHashedUnpaddedSecret).to.equal(true)
    expect(b.result.method).to.equal('rc4')
    expect(b.result.infoHash).to.deep.equal(infoHash)
    // Both continue the same RC4 streams: the payload crosses.
    const payload = Uint8Array.from([1, 2, 3, 4, 5])
    expect(b.result.decryptor!.process(a.result.encryptor!.process(payload))).to.deep.equal(payload)
    expect(a.result.decryptor!.process(b.result.encryptor!.process(payload))).to.deep.equal(payload)
  })

  it('a spec initiator with the same keys: accepted on the padded hash, not counted', () => {
    const { a, b } = handshake(nodeCryptoProvider, withZero)
    expect(a.status).to.equal('done')
    expect(b.status).to.equal('done')
    if (b.status === 'done') expect(b.result.peerHashedUnpaddedSecret).to.equal(false)
  })

  it('the buggy initiator when S has no leading zero: its hash is the spec one, not counted', () => {
    const { b, responder } = handshake(unpaddedReq3Provider, withoutZero)
    expect(responder.secretHasLeadingZero).to.equal(false)
    expect(b.status).to.equal('done')
    if (b.status === 'done') expect(b.result.peerHashedUnpaddedSecret).to.equal(false)
  })

  it('a torrent we do not serve is still unknown-skey, padded or not', () => {
    for (const provider of [unpaddedReq3Provider, nodeCryptoProvider]) {
      const { b } = handshake(provider, withZero, otherInfoHash)
      expect(b.status === 'failed' ? b.error.code : b.status, provider.name).to.equal('unknown-skey')
    }
  })
})
