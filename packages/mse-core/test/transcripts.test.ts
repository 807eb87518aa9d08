import { expect } from 'chai'
import { nodeCryptoProvider } from '../src/index.js'
import { forgeCryptoProvider } from '../src/forge.js'
import { runOpensslChild } from './helpers/child.js'
import { drbg, hex, readTranscripts, refPublicKey, refSecret, unhex } from 'test-support'
import { runPair } from './helpers/pair.js'

const fixture = readTranscripts()

describe('transcripts: the fixture covers the required cases', () => {
  const byName = new Map(fixture.transcripts.map(t => [t.name, t]))

  it('has rc4 with a 68-byte IA, rc4 without IA, plaintext-after-mse, required/required', () => {
    expect(byName.get('rc4-ia68')).to.include({ method: 'rc4' })
    expect(unhex(byName.get('rc4-ia68')!.ia).length).to.equal(68)
    expect(byName.get('rc4-no-ia')).to.include({ method: 'rc4', ia: '' })
    expect(byName.get('plaintext-after-mse')).to.include({ method: 'plaintext-after-mse', responderPolicy: 'tolerated', cryptoSelect: 1 })
    expect(byName.get('required-required')).to.include({ method: 'rc4', initiatorPolicy: 'required', responderPolicy: 'required', cryptoProvide: 2 })
  })

  it('has transcripts whose Ya, Yb and S have a leading zero byte', () => {
    expect(fixture.transcripts.some(t => t.Ya.startsWith('00'))).to.equal(true)
    expect(fixture.transcripts.some(t => t.Yb.startsWith('00'))).to.equal(true)
    expect(fixture.transcripts.some(t => t.S.startsWith('00'))).to.equal(true)
    for (const t of fixture.transcripts) {
      expect(t.Ya.length, t.name).to.equal(192)
      expect(t.Yb.length, t.name).to.equal(192)
      expect(t.S.length, t.name).to.equal(192)
    }
  })

  it('has a transcript in which a pad-length draw was rejected and drawn again', () => {
    expect(fixture.transcripts.some(t => t.padLengthRedraws > 0)).to.equal(true)
    for (const t of fixture.transcripts) {
      for (const n of Object.values(t.padLengths)) expect(n).to.be.within(0, 512)
    }
  })

  it('records internally consistent keys: Ya, Yb and S follow from the private keys (BigInt reference)', () => {
    for (const t of fixture.transcripts) {
      expect(hex(drbg(t.seeds.initiator)(20)), t.name).to.equal(t.privateKeys.initiator)
      expect(hex(drbg(t.seeds.responder)(20)), t.name).to.equal(t.privateKeys.responder)
      expect(hex(refPublicKey(unhex(t.privateKeys.initiator))), t.name).to.equal(t.Ya)
      expect(hex(refPublicKey(unhex(t.privateKeys.responder))), t.name).to.equal(t.Yb)
      expect(hex(refSecret(unhex(t.privateKeys.initiator), unhex(t.Yb))), t.name).to.equal(t.S)
      expect(t.flights['1'].slice(0, 192)).to.equal(t.Ya)
      expect(t.flights['2'].slice(0, 192)).to.equal(t.Yb)
      expect(t.flights['1'].length / 2).to.equal(96 + t.padLengths.padA)
      expect(t.flights['2'].length / 2).to.equal(96 + t.padLengths.padB)
      expect(t.flights['3'].length / 2).to.equal(40 + 14 + t.padLengths.padC + 2 + t.ia.length / 2)
      expect(t.flights['4'].length / 2).to.equal(14 + t.padLengths.padD)
    }
  })
})

describe('transcripts: replay through both crypto providers', () => {
  for (const provider of [nodeCryptoProvider, forgeCryptoProvider]) {
    for (const t of fixture.transcripts) {
      it(`${t.name} with ${provider.name}: byte-identical flights and the same result`, () => {
        expect(hex(provider.dhSharedSecret(unhex(t.privateKeys.initiator), unhex(t.Yb)))).to.equal(t.S)
        expect(hex(provider.dhSharedSecret(unhex(t.privateKeys.responder), unhex(t.Ya)))).to.equal(t.S)

        const run = runPair({
          initiatorPolicy: t.initiatorPolicy,
          responderPolicy: t.responderPolicy,
          seedA: t.seeds.initiator,
          seedB: t.seeds.responder,
          infoHash: unhex(t.infoHash),
          ia: unhex(t.ia),
          provider,
          // The plain spec, byte for byte: the extension is covered by extension-vectors.json.
          extension: false
        })
        for (const k of ['1', '2', '3', '4'] as const) {
          expect(hex(run.flights[Number(k)] ?? new Uint8Array(0)), `flight ${k}`).to.equal(t.flights[k])
        }
        expect(run.a.status).to.equal('done')
        expect(run.b.status).to.equal('done')
        if (run.a.status !== 'done' || run.b.status !== 'done') return
        const a = run.a.result
        const b = run.b.result
        for (const r of [a, b]) {
          expect(r.method).to.equal(t.method)
          expect(hex(r.infoHash!)).to.equal(t.skey)
          expect(r.cryptoProvide).to.equal(t.cryptoProvide)
          expect(r.cryptoSelect).to.equal(t.cryptoSelect)
          expect(r.initialPayloadLength).to.equal(t.ia.length / 2)
        }
        expect(a.role).to.equal('initiator')
        expect(b.role).to.equal('responder')
        // B's payload is the IA, decrypted; A received nothing after PadD.
        expect(hex(b.payload)).to.equal(t.ia)
        expect(a.payload.length).to.equal(0)
        expect(a.handshakeBytesSent).to.equal((t.flights['1'].length + t.flights['3'].length) / 2)
        expect(b.handshakeBytesSent).to.equal((t.flights['2'].length + t.flights['4'].length) / 2)
        expect(a.handshakeBytesReceived).to.equal((t.flights['2'].length + t.flights['4'].length) / 2)

        // The payload after the handshake continues the same streams (or is plaintext).
        const aToB = unhex(t.payload.aToB)
        const bToA = unhex(t.payload.bToA)
        if (t.method === 'rc4') {
          expect(hex(a.encryptor!.process(aToB))).to.equal(t.wire.aToB)
          expect(hex(b.encryptor!.process(bToA))).to.equal(t.wire.bToA)
          expect(hex(b.decryptor!.process(unhex(t.wire.aToB)))).to.equal(t.payload.aToB)
          expect(hex(a.decryptor!.process(unhex(t.wire.bToA)))).to.equal(t.payload.bToA)
        } else {
          expect(a.encryptor).to.equal(undefined)
          expect(b.decryptor).to.equal(undefined)
          expect(t.wire.aToB).to.equal(t.payload.aToB)
          expect(t.wire.bToA).to.equal(t.payload.bToA)
        }
      })
    }
  }
})

describe('transcripts: replay with nodeCryptoProvider on the OpenSSL RC4 backend (child process)', () => {
  interface Replay {
    name: string
    flights: string[]
    a: { status: string, result?: Record<string, unknown> }
    b: { status: string, result?: Record<string, unknown> }
    backends: (string | undefined)[]
    wire: { aToB: string, bToA: string }
  }
  let replays: Replay[] | undefined

  before(function () {
    this.timeout(60_000)
    replays = runOpensslChild(['transcripts']) as Replay[] | undefined
  })

  beforeEach(function () {
    if (!replays) this.skip()
  })

  it('every transcript: byte-identical flights, the same result, payload on the continued streams', () => {
    expect(replays!.map(r => r.name)).to.deep.equal(fixture.transcripts.map(t => t.name))
    for (const [k, t] of fixture.transcripts.entries()) {
      const r = replays![k]!
      expect(r.flights, t.name).to.deep.equal([t.flights['1'], t.flights['2'], t.flights['3'], t.flights['4']])
      expect(r.a.status, t.name).to.equal('done')
      expect(r.b.status, t.name).to.equal('done')
      expect(r.a.result!.method).to.equal(t.method)
      expect(r.b.result!.method).to.equal(t.method)
      expect(r.b.result!.payload).to.equal(t.ia)
      expect(r.a.result!.infoHash).to.equal(t.skey)
      expect(r.b.result!.infoHash).to.equal(t.skey)
      expect(r.a.result!.cryptoSelect).to.equal(t.cryptoSelect)
      expect(r.wire, t.name).to.deep.equal(t.wire)
      if (t.method === 'rc4') expect(r.backends, t.name).to.deep.equal(['openssl', 'openssl', 'openssl', 'openssl'])
    }
  })
})
