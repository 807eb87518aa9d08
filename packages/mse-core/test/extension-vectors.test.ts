/**
 * test-fixtures/mse-core/extension-vectors.json (scripts/make-transcripts.ts, docs/mse-extension.md): known
 * answers for the PadC/PadD extension and AES-128-CTR, recomputed by an independent reference. Replayed here
 * through both crypto providers: flights byte for byte, the negotiated method, the payload on the negotiated
 * cipher, and the derivations (K, AES key and counter, the first keystream blocks).
 */
import { expect } from 'chai'
import { aesCtrParameters, extensionKey, nodeCryptoProvider } from '../src/index.js'
import { forgeCryptoProvider } from '../src/forge.js'
import { runPair } from './helpers/pair.js'
import { hex, readExtensionVectors, sha1, unhex } from 'test-support'

const fixture = readExtensionVectors()

describe('extension vectors: the fixture covers AES, plaintext-after-mse and each block left out', () => {
  it('has the cases', () => {
    const byName = new Map(fixture.transcripts.map(v => [v.name, v]))
    expect(byName.get('ext-aes-ia68')).to.include({ method: 'aes-128-ctr' })
    expect(byName.get('ext-aes-required')).to.include({ method: 'aes-128-ctr', ia: '' })
    expect(byName.get('ext-plaintext-after-mse')).to.include({ method: 'plaintext-after-mse' })
    expect(byName.get('ext-no-offer')!.extension.offer).to.equal(null)
    expect(byName.get('ext-no-offer')!.padLengths.padC).to.be.below(13)
    expect(byName.get('ext-no-confirmation')!.extension.confirmation).to.equal(null)
    expect(byName.get('ext-no-confirmation')!.padLengths.padD).to.be.below(17)
  })
})

describe('extension vectors: derivations', () => {
  for (const provider of [nodeCryptoProvider, forgeCryptoProvider]) {
    for (const v of fixture.transcripts) {
      it(`${v.name} with ${provider.name}: K, AES keys, counter blocks and the first 64 keystream bytes each way`, () => {
        expect(hex(extensionKey(provider, unhex(v.S), unhex(v.skey)))).to.equal(v.extension.K)
        for (const [direction, label] of [['aToB', 'keyA'], ['bToA', 'keyB']] as const) {
          const { key, counterBlock } = aesCtrParameters(sha1(label, unhex(v.S), unhex(v.skey)))
          const want = v.extension.aes[direction]
          expect(hex(key)).to.equal(want.key)
          expect(hex(counterBlock)).to.equal(want.counterBlock)
          expect(hex(provider.createAes128Ctr(key, counterBlock).process(new Uint8Array(64)))).to.equal(want.keystream64)
        }
      })
    }
  }
})

describe('extension vectors: replay through both providers', () => {
  for (const provider of [nodeCryptoProvider, forgeCryptoProvider]) {
    for (const v of fixture.transcripts) {
      it(`${v.name} with ${provider.name}: byte-identical flights, ${v.method}, payload on that cipher`, () => {
        const run = runPair({
          initiatorPolicy: v.initiatorPolicy,
          responderPolicy: v.responderPolicy,
          seedA: v.seeds.initiator,
          seedB: v.seeds.responder,
          infoHash: unhex(v.infoHash),
          ia: unhex(v.ia),
          provider
        })
        for (const k of ['1', '2', '3', '4'] as const) {
          expect(hex(run.flights[Number(k)] ?? new Uint8Array(0)), `flight ${k}`).to.equal(v.flights[k])
        }
        expect(run.a.status).to.equal('done')
        expect(run.b.status).to.equal('done')
        if (run.a.status !== 'done' || run.b.status !== 'done') return
        expect([run.a.result.method, run.b.result.method]).to.deep.equal([v.method, v.method])
        expect(run.a.result.peerExtension).to.equal(v.extension.confirmation !== null)
        expect(run.b.result.peerExtension).to.equal(v.extension.offer !== null)
        expect(hex(run.b.result.payload)).to.equal(v.ia)
        const aToB = unhex(v.payload.aToB)
        const bToA = unhex(v.payload.bToA)
        const encryptor = (r: typeof run.a): ((x: Uint8Array) => Uint8Array) => r.status === 'done' && r.result.encryptor ? x => r.result.encryptor!.process(x) : x => x
        expect(hex(encryptor(run.a)(aToB))).to.equal(v.wire.aToB)
        expect(hex(encryptor(run.b)(bToA))).to.equal(v.wire.bToA)
      })
    }
  }
})
