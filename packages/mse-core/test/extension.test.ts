/**
 * This project's PadC/PadD extension (docs/mse-extension.md) between two of our peers: AES-128-CTR
 * negotiation, and detection of a crypto_provide / crypto_select changed in transit, under every policy pair
 * that runs MSE. An on-path proxy is played by `mutateFlight3` / `mutateFlight4` (RC4 is malleable: flipping
 * a ciphertext bit flips the same plaintext bit, no key needed).
 */
import { expect } from 'chai'
import { CONFIRM_LENGTH, OFFER_LENGTH, type EncryptionPolicy, type HandshakeStep } from '../src/index.js'
import { withPadLengths } from './helpers/pad-lengths.js'
import { bittorrentHandshake, infoHashOf, runPair, type PairOptions, type PairRun } from './helpers/pair.js'
import { hex } from 'test-support'

const INFO_HASH = infoHashOf('extension')
const IA = bittorrentHandshake(INFO_HASH)
/** Flight 3: req1 (20), req2^req3 (20), VC (8), crypto_provide (4) at 48, len(PadC) (2), PadC at 54. */
const PROVIDE_LAST_BYTE = 51
const PAD_C = 54
/** Flight 4: VC (8), crypto_select (4) at 8, len(PadD) (2), PadD at 14. */
const SELECT_LAST_BYTE = 11
const PAD_D = 14

/** Policies that run an MSE handshake ('disabled' initiators send plaintext; 'disabled' responders refuse MSE). */
const MSE_POLICIES: EncryptionPolicy[] = ['required', 'preferred', 'tolerated']

function flip (position: number, mask: number) {
  return (bytes: Uint8Array): Uint8Array => {
    const out = bytes.slice()
    out[position]! ^= mask
    return out
  }
}

function both (...mutations: ((b: Uint8Array) => Uint8Array)[]) {
  return (bytes: Uint8Array): Uint8Array => mutations.reduce((b, m) => m(b), bytes)
}

/** A run with pinned pad lengths (PadA, PadC / PadB, PadD) so that both extension blocks fit, or not. */
function run (i: EncryptionPolicy, r: EncryptionPolicy, extra: Partial<PairOptions> = {}, pads = { a: 100, c: 200, b: 50, d: 300 }): PairRun {
  return runPair({
    initiatorPolicy: i,
    responderPolicy: r,
    infoHash: INFO_HASH,
    ia: IA,
    ...extra,
    initiatorOptions: { random: withPadLengths(`ext A ${i} ${r}`, [pads.a, pads.c]), ...extra.initiatorOptions },
    responderOptions: { random: withPadLengths(`ext B ${i} ${r}`, [pads.b, pads.d]), ...extra.responderOptions }
  })
}

function outcome (step: HandshakeStep): string {
  return step.status === 'done' ? step.result.method : step.status === 'failed' ? step.error.code : 'pending'
}

/** What the plain policies select (policy.test.ts), with AES-128-CTR wherever RC4 would run. */
function expectedMethod (i: EncryptionPolicy, r: EncryptionPolicy): string {
  const plaintext = r === 'tolerated' && i !== 'required'
  return plaintext ? 'plaintext-after-mse' : 'aes-128-ctr'
}

describe('extension: negotiation between two of our peers, every policy pair', () => {
  for (const i of MSE_POLICIES) {
    for (const r of MSE_POLICIES) {
      it(`${i} x ${r}: ${expectedMethod(i, r)} both ways, each side sees the other's extension`, () => {
        const p = run(i, r)
        expect([outcome(p.a), outcome(p.b)]).to.deep.equal([expectedMethod(i, r), expectedMethod(i, r)])
        if (p.a.status !== 'done' || p.b.status !== 'done') return
        expect(p.a.result.peerExtension).to.equal(true)
        expect(p.b.result.peerExtension).to.equal(true)
        expect(hex(p.b.result.payload)).to.equal(hex(IA))
        // Flight sizes are those of the plain spec with the same pad lengths.
        expect(p.flights[3]!.length).to.equal(PAD_C + 200 + 2 + IA.length)
        expect(p.flights[4]!.length).to.equal(PAD_D + 300)
        if (p.a.result.method === 'aes-128-ctr') {
          expect(p.a.result.encryptor!.algorithm).to.equal('aes-128-ctr')
          const message = new TextEncoder().encode('piece data')
          expect(hex(p.b.result.decryptor!.process(p.a.result.encryptor!.process(message)))).to.equal(hex(message))
          expect(hex(p.a.result.decryptor!.process(p.b.result.encryptor!.process(message)))).to.equal(hex(message))
        }
      })

      it(`${i} x ${r}: aes off on either side keeps RC4 (the extension still runs)`, () => {
        const rc4 = expectedMethod(i, r) === 'aes-128-ctr' ? 'rc4' : expectedMethod(i, r)
        for (const side of ['initiatorOptions', 'responderOptions'] as const) {
          const p = run(i, r, { [side]: { aes: false } })
          expect([outcome(p.a), outcome(p.b)], side).to.deep.equal([rc4, rc4])
          if (p.a.status === 'done') expect(p.a.result.peerExtension).to.equal(true)
        }
      })
    }
  }
})

describe('extension: a proxy flips crypto_provide or crypto_select, every policy pair', () => {
  for (const i of MSE_POLICIES) {
    for (const r of MSE_POLICIES) {
      it(`${i} x ${r}: every flip of the two method bits of crypto_provide is refused by the responder as tampering`, () => {
        for (const mask of [0x01, 0x02, 0x03]) {
          const p = run(i, r, { mutateFlight3: flip(PROVIDE_LAST_BYTE, mask) })
          expect(outcome(p.b), `mask ${mask}`).to.equal('negotiation-tampered')
          // B answers nothing: A never gets a select, let alone a plaintext payload.
          expect(p.flights[4]?.length ?? 0, `mask ${mask}`).to.equal(0)
          expect(p.a.status, `mask ${mask}`).to.equal('pending')
          const closed = p.initiator.peerClosed()
          expect(outcome(closed)).to.equal('peer-closed')
        }
      })

      it(`${i} x ${r}: a flipped crypto_select is refused by the initiator as tampering`, () => {
        for (const mask of [0x01, 0x02, 0x03]) {
          const p = run(i, r, { mutateFlight4: flip(SELECT_LAST_BYTE, mask) })
          expect(outcome(p.a), `mask ${mask}`).to.equal('negotiation-tampered')
        }
      })

      it(`${i} x ${r}: a damaged offer is noticed by the initiator (the confirmation says it did not arrive); never plaintext`, () => {
        // A bit of the offer's tag: B cannot tell it from another client's pad and runs plain MSE.
        const p = run(i, r, { mutateFlight3: flip(PAD_C + OFFER_LENGTH - 1, 0x10) })
        expect(p.b.status).to.equal('done')
        if (p.b.status === 'done') {
          expect(p.b.result.peerExtension).to.equal(false)
          expect(p.b.result.method).to.equal(expectedMethod(i, r) === 'aes-128-ctr' ? 'rc4' : expectedMethod(i, r))
        }
        expect(outcome(p.a)).to.equal('negotiation-tampered')
        // The same with crypto_provide flipped as well (0x03 -> 0x01, 0x02 -> 0x00): B may select plaintext
        // or refuse, A refuses.
        const q = run(i, r, { mutateFlight3: both(flip(PAD_C + OFFER_LENGTH - 1, 0x10), flip(PROVIDE_LAST_BYTE, 0x02)) })
        expect(outcome(q.a)).to.be.oneOf(['negotiation-tampered', 'pending'])
        if (q.a.status === 'pending') expect(outcome(q.b)).to.equal('no-common-method')
      })
    }
  }
})

describe('extension: what it cannot protect (docs/mse-extension.md, "Residual risks")', () => {
  it('a damaged confirmation: A cannot tell B from another client and keeps RC4 while B switched to AES; both still encrypt', () => {
    const p = run('preferred', 'preferred', { mutateFlight4: flip(PAD_D + CONFIRM_LENGTH - 1, 0x01) })
    expect([outcome(p.a), outcome(p.b)]).to.deep.equal(['rc4', 'aes-128-ctr'])
    // The first payload message does not decrypt: the connection fails at the BitTorrent layer.
    if (p.a.status !== 'done' || p.b.status !== 'done') return
    const message = new TextEncoder().encode('bitfield')
    expect(hex(p.b.result.decryptor!.process(p.a.result.encryptor!.process(message)))).to.not.equal(hex(message))
  })

  it('a damaged confirmation and a select flipped to plaintext: `preferred` accepts it (as with any other client), `required` refuses', () => {
    const mutate = both(flip(PAD_D + CONFIRM_LENGTH - 1, 0x01), flip(SELECT_LAST_BYTE, 0x03))
    expect(outcome(run('preferred', 'preferred', { mutateFlight4: mutate }).a)).to.equal('plaintext-after-mse')
    expect(outcome(run('required', 'preferred', { mutateFlight4: mutate }).a)).to.equal('method-not-offered')
  })
})

describe('extension: pads drawn too short for it (lengths stay uniform: the block is left out)', () => {
  it(`PadC of ${OFFER_LENGTH - 1} bytes: no offer, RC4; B's confirmation still lets A catch a flipped provide`, () => {
    const pads = { a: 100, c: OFFER_LENGTH - 1, b: 50, d: 300 }
    const p = run('preferred', 'preferred', {}, pads)
    expect([outcome(p.a), outcome(p.b)]).to.deep.equal(['rc4', 'rc4'])
    if (p.a.status === 'done' && p.b.status === 'done') {
      expect(p.a.result.peerExtension).to.equal(true)
      expect(p.b.result.peerExtension).to.equal(false)
    }
    const flipped = run('preferred', 'preferred', { mutateFlight3: flip(PROVIDE_LAST_BYTE, 0x02) }, pads)
    expect([outcome(flipped.a), outcome(flipped.b)]).to.deep.equal(['negotiation-tampered', 'plaintext-after-mse'])
  })

  it(`PadD of ${CONFIRM_LENGTH - 1} bytes: no confirmation, RC4; B still catches a flipped provide from the offer`, () => {
    const pads = { a: 100, c: 200, b: 50, d: CONFIRM_LENGTH - 1 }
    const p = run('preferred', 'preferred', {}, pads)
    expect([outcome(p.a), outcome(p.b)]).to.deep.equal(['rc4', 'rc4'])
    if (p.a.status === 'done' && p.b.status === 'done') {
      expect(p.a.result.peerExtension).to.equal(false)
      expect(p.b.result.peerExtension).to.equal(true)
    }
    const flipped = run('preferred', 'preferred', { mutateFlight3: flip(PROVIDE_LAST_BYTE, 0x02) }, pads)
    expect(outcome(flipped.b)).to.equal('negotiation-tampered')
  })

  it(`PadC of exactly ${OFFER_LENGTH} and PadD of exactly ${CONFIRM_LENGTH} bytes: AES-128-CTR`, () => {
    const p = run('preferred', 'preferred', {}, { a: 100, c: OFFER_LENGTH, b: 50, d: CONFIRM_LENGTH })
    expect([outcome(p.a), outcome(p.b)]).to.deep.equal(['aes-128-ctr', 'aes-128-ctr'])
  })

  it('empty PadC and PadD: the plain spec, RC4', () => {
    const p = run('required', 'required', {}, { a: 0, c: 0, b: 0, d: 0 })
    expect([outcome(p.a), outcome(p.b)]).to.deep.equal(['rc4', 'rc4'])
  })
})
