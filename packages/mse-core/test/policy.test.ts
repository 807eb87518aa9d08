import { expect } from 'chai'
import {
  ENCRYPTION_POLICIES, ResponderHandshake, acceptsMseHandshake, acceptsPlaintextHandshake, cryptoProvideFor,
  isAcceptableSelect, isEncryptionPolicy, parseEncryptionPolicy, selectCryptoMethod, type EncryptionPolicy, type HandshakeStep
} from '../src/index.js'
import { drbg, hex } from 'test-support'
import { bittorrentHandshake, infoHashOf, makeRegistry, runPair, type PairOptions } from './helpers/pair.js'

type Outcome = string // a method when both sides agree, or each side's error code

/**
 * Initiator policy x responder policy. An initiator with policy `disabled` does not start MSE: it sends a
 * plaintext BitTorrent handshake. When one side fails, the other sees the connection close.
 * Written out by hand: this table is the specification of the policies.
 */
const EXPECTED: [EncryptionPolicy, EncryptionPolicy, { initiator: Outcome, responder: Outcome }][] = [
  ['required', 'required', { initiator: 'rc4', responder: 'rc4' }],
  ['required', 'preferred', { initiator: 'rc4', responder: 'rc4' }],
  ['required', 'tolerated', { initiator: 'rc4', responder: 'rc4' }],
  ['required', 'disabled', { initiator: 'peer-closed', responder: 'encryption-refused' }],

  ['preferred', 'required', { initiator: 'rc4', responder: 'rc4' }],
  ['preferred', 'preferred', { initiator: 'rc4', responder: 'rc4' }],
  ['preferred', 'tolerated', { initiator: 'plaintext-after-mse', responder: 'plaintext-after-mse' }],
  ['preferred', 'disabled', { initiator: 'peer-closed', responder: 'encryption-refused' }],

  ['tolerated', 'required', { initiator: 'rc4', responder: 'rc4' }],
  ['tolerated', 'preferred', { initiator: 'rc4', responder: 'rc4' }],
  ['tolerated', 'tolerated', { initiator: 'plaintext-after-mse', responder: 'plaintext-after-mse' }],
  ['tolerated', 'disabled', { initiator: 'peer-closed', responder: 'encryption-refused' }],

  ['disabled', 'required', { initiator: 'plaintext', responder: 'plaintext-refused' }],
  ['disabled', 'preferred', { initiator: 'plaintext', responder: 'plaintext' }],
  ['disabled', 'tolerated', { initiator: 'plaintext', responder: 'plaintext' }],
  ['disabled', 'disabled', { initiator: 'plaintext', responder: 'plaintext' }]
]

function outcome (step: HandshakeStep): Outcome {
  if (step.status === 'done') return step.result.method
  if (step.status === 'failed') return step.error.code
  return 'pending'
}

/**
 * The table between two plain-spec peers, and with this project's extension on one side or both. Between
 * two of our peers AES-128-CTR replaces RC4 wherever RC4 would run (unless `aes: false`); against a peer
 * without the extension nothing changes.
 */
const VARIANTS: { name: string, options: Partial<PairOptions>, aes: boolean }[] = [
  { name: 'plain spec both sides', options: { extension: false }, aes: false },
  { name: 'both ours', options: {}, aes: true },
  { name: 'both ours, aes off at the initiator', options: { initiatorOptions: { aes: false } }, aes: false },
  { name: 'both ours, aes off at the responder', options: { responderOptions: { aes: false } }, aes: false },
  { name: 'ours initiator, plain-spec responder', options: { responderOptions: { extension: false } }, aes: false },
  { name: 'plain-spec initiator, ours responder', options: { initiatorOptions: { extension: false } }, aes: false }
]

describe('policy: every initiator policy against every responder policy', () => {
  it('the table covers all 16 pairs exactly once', () => {
    const pairs = EXPECTED.map(([i, r]) => `${i}/${r}`)
    expect(new Set(pairs).size).to.equal(16)
    for (const i of ENCRYPTION_POLICIES) for (const r of ENCRYPTION_POLICIES) expect(pairs).to.include(`${i}/${r}`)
  })

  for (const variant of VARIANTS) {
    const withAes = (o: Outcome): Outcome => variant.aes && o === 'rc4' ? 'aes-128-ctr' : o
    for (const [initiatorPolicy, responderPolicy, table] of EXPECTED) {
      const expected = { initiator: withAes(table.initiator), responder: withAes(table.responder) }
      it(`${variant.name}: initiator ${initiatorPolicy} x responder ${responderPolicy} -> ${expected.initiator} / ${expected.responder}`, () => {
        const infoHash = infoHashOf('policy')
        const ia = bittorrentHandshake(infoHash)
        if (initiatorPolicy === 'disabled') {
          // A plaintext BitTorrent connection: the 68-byte handshake, then whatever follows.
          const responder = new ResponderHandshake({ policy: responderPolicy, skeys: makeRegistry(infoHash), random: drbg('policy B'), ...variant.options.responderOptions })
          responder.start(0)
          const step = responder.receive(ia, 1)
          expect(outcome(step)).to.equal(expected.responder)
          if (step.status === 'done') expect(hex(step.result.payload)).to.equal(hex(ia))
          expect(step.send.length, 'a plaintext peer gets no MSE bytes').to.equal(0)
          return
        }
        const run = runPair({ initiatorPolicy, responderPolicy, infoHash, ia, seedA: 'policy A', seedB: 'policy B', ...variant.options })
        let a = run.a
        // The responder failed and closed the connection: the initiator learns only that.
        if (run.b.status === 'failed' && a.status === 'pending') a = run.initiator.peerClosed()
        expect({ initiator: outcome(a), responder: outcome(run.b) }).to.deep.equal(expected)
        if (a.status === 'done' && run.b.status === 'done') {
          expect(a.result.cryptoSelect).to.equal(run.b.result.cryptoSelect)
          expect(hex(run.b.result.payload)).to.equal(hex(ia))
          const encrypted = a.result.method === 'rc4' || a.result.method === 'aes-128-ctr'
          expect(a.result.encryptor === undefined).to.equal(!encrypted)
          expect(a.result.encryptor?.algorithm).to.equal(encrypted ? a.result.method : undefined)
          // Each side knows the other runs the extension exactly when both do.
          const both = variant.options.extension !== false && variant.options.initiatorOptions?.extension !== false &&
            variant.options.responderOptions?.extension !== false
          expect(a.result.peerExtension, 'initiator sees the extension').to.equal(both)
          expect(run.b.result.peerExtension, 'responder sees the extension').to.equal(both)
          // The payload runs on the negotiated cipher both ways.
          if (encrypted) {
            const message = new TextEncoder().encode('payload after the handshake')
            expect(hex(run.b.result.decryptor!.process(a.result.encryptor!.process(message)))).to.equal(hex(message))
            expect(hex(a.result.decryptor!.process(run.b.result.encryptor!.process(message)))).to.equal(hex(message))
          }
        }
      })
    }
  }
})

describe('policy: the policy helpers', () => {
  it('crypto_provide per policy', () => {
    expect(ENCRYPTION_POLICIES.map(p => cryptoProvideFor(p))).to.deep.equal([0x02, 0x03, 0x03, 0x00])
  })

  it('crypto_select per responder policy and crypto_provide (reserved bits ignored)', () => {
    const provides = [0x00, 0x01, 0x02, 0x03, 0xfffffffc, 0xfffffffd, 0xfffffffe, 0xffffffff]
    const table: Record<EncryptionPolicy, (number | undefined)[]> = {
      required: [undefined, undefined, 0x02, 0x02, undefined, undefined, 0x02, 0x02],
      preferred: [undefined, 0x01, 0x02, 0x02, undefined, 0x01, 0x02, 0x02],
      tolerated: [undefined, 0x01, 0x02, 0x01, undefined, 0x01, 0x02, 0x01],
      disabled: [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]
    }
    for (const policy of ENCRYPTION_POLICIES) {
      expect(provides.map(p => selectCryptoMethod(policy, p)), policy).to.deep.equal(table[policy])
    }
  })

  it('an initiator accepts exactly one offered bit', () => {
    expect(isAcceptableSelect(0x02, 0x02)).to.equal(true)
    expect(isAcceptableSelect(0x02, 0x01)).to.equal(false)
    expect(isAcceptableSelect(0x03, 0x01)).to.equal(true)
    expect(isAcceptableSelect(0x03, 0x02)).to.equal(true)
    expect(isAcceptableSelect(0x03, 0x03)).to.equal(false)
    expect(isAcceptableSelect(0x03, 0x00)).to.equal(false)
    expect(isAcceptableSelect(0x03, 0x04)).to.equal(false)
    expect(isAcceptableSelect(0x03, 0x06)).to.equal(false)
  })

  it('which handshakes a responder accepts', () => {
    expect(ENCRYPTION_POLICIES.map(acceptsPlaintextHandshake)).to.deep.equal([false, true, true, true])
    expect(ENCRYPTION_POLICIES.map(acceptsMseHandshake)).to.deep.equal([true, true, true, false])
  })

  it('parsing: undefined is the default (preferred), unknown values throw TypeError', () => {
    expect(parseEncryptionPolicy(undefined)).to.equal('preferred')
    for (const p of ENCRYPTION_POLICIES) expect(parseEncryptionPolicy(p)).to.equal(p)
    for (const bad of ['', 'Required', 'forced', 1, null, {}]) {
      expect(() => parseEncryptionPolicy(bad), String(bad)).to.throw(TypeError)
      expect(isEncryptionPolicy(bad)).to.equal(false)
    }
  })
})
