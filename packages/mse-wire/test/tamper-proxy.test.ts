/**
 * An on-path proxy between two of our peers that flips bits of the RC4-encrypted negotiation (RC4 is
 * malleable: no key needed) or damages the extension blocks in PadC / PadD. It finds the flights the way
 * a real one would, from the turn-taking of the handshake: flight 1 is everything the initiator sent before
 * the responder's first byte, flight 2 everything the responder sent before flight 3 began.
 * Whatever it does, neither side may send a plaintext BitTorrent byte: the negotiation is refused with
 * `negotiation-tampered`, or runs RC4 instead of AES.
 */
import { expect } from 'chai'
import type { MseOutcome } from '../src/index.js'
import { bittorrentHandshake, roomyPads, wirePair } from './helpers.js'
import { PLAINTEXT_HEADER, closed, contains, failOnUncaught, within } from 'test-support'
import type { RelayOptions, Shaper } from 'test-support'

/** Flight 3: crypto_provide's last byte at 51, PadC (the offer) at 54. Flight 4: crypto_select's last byte at 11. */
const PROVIDE_LAST_BYTE = 51
const OFFER_TAG_BYTE = 54 + 12
const SELECT_LAST_BYTE = 11

interface Tamper {
  /** Offsets into flight 3 (initiator -> responder) and flight 4 (responder -> initiator), with XOR masks. */
  flight3?: [number, number][]
  flight4?: [number, number][]
}

function tamperingProxy (tamper: Tamper): RelayOptions {
  let upSeen = 0
  let downSeen = 0
  let flight1: number | undefined
  let flight2: number | undefined
  const shaper = (direction: 'up' | 'down'): Shaper => ({
    async data (chunk, out) {
      const bytes = Buffer.from(chunk)
      const start = direction === 'up' ? upSeen : downSeen
      if (direction === 'down' && flight1 === undefined) flight1 = upSeen
      if (direction === 'up' && flight1 !== undefined && flight2 === undefined) flight2 = downSeen
      const base = direction === 'up' ? (flight1 !== undefined && flight2 !== undefined ? flight1 : undefined) : flight2
      const edits = direction === 'up' ? tamper.flight3 : tamper.flight4
      if (base !== undefined) {
        for (const [offset, mask] of edits ?? []) {
          const at = base + offset - start
          if (at >= 0 && at < bytes.length) bytes[at]! ^= mask
        }
      }
      if (direction === 'up') upSeen += chunk.length
      else downSeen += chunk.length
      await out.write(bytes)
    }
  })
  return { up: () => shaper('up'), down: () => shaper('down') }
}

async function run (tamper: Tamper, policies: { initiator: 'required' | 'preferred', responder: 'required' | 'preferred' }): Promise<{ a: MseOutcome, b: MseOutcome, up: Buffer, down: Buffer }> {
  const pair = await wirePair({
    initiator: { policy: policies.initiator, provider: roomyPads },
    responder: { policy: policies.responder, provider: roomyPads },
    relay: tamperingProxy(tamper)
  })
  try {
    // Written at once, as webtorrent does; it must never leave in plaintext.
    void bittorrentHandshake(pair, 10_000).catch(() => {})
    const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
    if (!a.ok || !b.ok) {
      await closed(pair.initiator.wire, 5000, 'the initiator Wire')
      await closed(pair.responder.wire, 5000, 'the responder Wire')
    }
    return { a, b, up: Buffer.concat(pair.relay!.captured.up), down: Buffer.concat(pair.relay!.captured.down) }
  } finally {
    pair.close()
  }
}

function noPlaintext (r: { up: Buffer, down: Buffer }): void {
  expect(contains(r.up, PLAINTEXT_HEADER), 'initiator sent a plaintext BitTorrent handshake').to.equal(false)
  expect(contains(r.down, PLAINTEXT_HEADER), 'responder sent a plaintext BitTorrent handshake').to.equal(false)
}

describe('tampering proxy between two of our peers (PadC/PadD extension)', function () {
  this.timeout(30_000)
  failOnUncaught()

  for (const policies of [
    { initiator: 'preferred', responder: 'preferred' },
    { initiator: 'required', responder: 'preferred' },
    { initiator: 'preferred', responder: 'required' },
    { initiator: 'required', responder: 'required' }
  ] as const) {
    const name = `${policies.initiator} x ${policies.responder}`

    it(`${name}: the untouched connection runs AES-128-CTR and both know the other is ours`, async () => {
      const r = await run({}, policies)
      expect([r.a.method, r.b.method]).to.deep.equal(['aes-128-ctr', 'aes-128-ctr'])
      expect([r.a.peerExtension, r.b.peerExtension]).to.deep.equal([true, true])
      noPlaintext(r)
    })

    it(`${name}: crypto_provide flipped (0x03 -> 0x01 / 0x02 -> 0x00): the responder refuses, negotiation-tampered, peer remembered as ours`, async () => {
      const r = await run({ flight3: [[PROVIDE_LAST_BYTE, 0x02]] }, policies)
      expect(r.b.ok).to.equal(false)
      expect(r.b.error?.code).to.equal('negotiation-tampered')
      expect(r.b.peerExtension).to.equal(true)
      expect(r.a.ok).to.equal(false)
      expect(r.a.peerSentNoKey, 'not evidence for a plaintext redial').to.equal(false)
      noPlaintext(r)
    })

    it(`${name}: crypto_select flipped: the initiator refuses, negotiation-tampered, never plaintext`, async () => {
      const r = await run({ flight4: [[SELECT_LAST_BYTE, 0x03]] }, policies)
      expect(r.a.ok).to.equal(false)
      expect(r.a.error?.code).to.equal('negotiation-tampered')
      expect(r.a.peerExtension).to.equal(true)
      expect(r.a.peerSentNoKey).to.equal(false)
      noPlaintext(r)
    })

    it(`${name}: the AES offer damaged (stripped): the initiator refuses; never plaintext`, async () => {
      const r = await run({ flight3: [[OFFER_TAG_BYTE, 0x01]] }, policies)
      expect(r.a.ok).to.equal(false)
      expect(r.a.error?.code).to.equal('negotiation-tampered')
      noPlaintext(r)
    })
  }
})
