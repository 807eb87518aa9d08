/**
 * Every initiator policy against every responder policy, over real TCP sockets on 127.0.0.1 with a
 * capturing relay in between. For the pairs that connect: the negotiated method on both sides, the IA, a
 * BitTorrent handshake and 2 MiB of piece data each way through the Wires, compared by hash, and what the
 * captured bytes show about the method. For the pairs that must not connect: the typed error on each side.
 */
import { expect } from 'chai'
import { ENCRYPTION_POLICIES, type EncryptionPolicy, type NegotiatedMethod } from 'mse-core'
import type { MseOutcome } from '../src/index.js'
import { BLOCK_LENGTH, bittorrentHandshake, exchangeBlocks, fetchBlocks, roomyPads, wirePair } from './helpers.js'
import { PLAINTEXT_HEADER, awaitedLater, closed, contains, failOnUncaught, seededBytes, within } from 'test-support'

type Expected =
  | { connects: true, method: NegotiatedMethod }
  | { connects: false, responderError: string, initiator: { ok: true, method: 'plaintext' } | { ok: false, error: string, peerSentNoKey: boolean } }

function expected (initiator: EncryptionPolicy, responder: EncryptionPolicy): Expected {
  if (initiator === 'disabled') {
    // No MSE at all from the initiator: a plaintext handshake, which only `required` refuses.
    return responder === 'required'
      ? { connects: false, responderError: 'plaintext-refused', initiator: { ok: true, method: 'plaintext' } }
      : { connects: true, method: 'plaintext' }
  }
  if (responder === 'disabled') {
    // The responder hangs up on the key without answering: the initiator's evidence to retry in plaintext.
    return { connects: false, responderError: 'encryption-refused', initiator: { ok: false, error: 'peer-closed', peerSentNoKey: true } }
  }
  // `required` provides RC4 only; preferred and tolerated provide both; tolerated selects plaintext.
  if (responder === 'tolerated' && initiator !== 'required') return { connects: true, method: 'plaintext-after-mse' }
  // Both ends are ours: AES-128-CTR through the PadC/PadD extension wherever RC4 would run.
  return { connects: true, method: 'aes-128-ctr' }
}

const BYTES_EACH_WAY = 2 * 1024 * 1024

describe('policy matrix over TCP (16 pairs)', function () {
  this.timeout(30_000)
  failOnUncaught()

  for (const initiatorPolicy of ENCRYPTION_POLICIES) {
    for (const responderPolicy of ENCRYPTION_POLICIES) {
      const want = expected(initiatorPolicy, responderPolicy)
      const title = `initiator ${initiatorPolicy} x responder ${responderPolicy}: ` +
        (want.connects ? `connects with ${want.method}` : `responder ${want.responderError}, initiator ${want.initiator.ok ? 'plaintext then closed' : want.initiator.error}`)

      it(title, async () => {
        const pair = await wirePair({
          // roomyPads: pads long enough for the extension, so that AES is certain (see helpers.ts).
          initiator: { policy: initiatorPolicy, provider: roomyPads },
          responder: { policy: responderPolicy, provider: roomyPads },
          relay: {} // a plain pass-through that records every byte each side sent
        })
        try {
          // Written at once, as webtorrent does: before the peer's key can have arrived.
          const handshakes = awaitedLater(bittorrentHandshake(pair))
          const [atInitiator, atResponder] = await within(
            Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'both outcomes')

          if (want.connects) {
            expectConnected(atInitiator, want.method, 'initiator')
            expectConnected(atResponder, want.method, 'responder')
            expect(atInitiator.infoHash).to.equal(want.method === 'plaintext' ? undefined : pair.infoHash)
            expect(atResponder.infoHash).to.equal(want.method === 'plaintext' ? undefined : pair.infoHash)
            // The BitTorrent handshake went inside flight 3 whenever there was an MSE handshake.
            const ia = want.method === 'plaintext' ? 0 : 68
            expect(atInitiator.initialPayloadLength, 'initiator IA').to.equal(ia)
            expect(atResponder.initialPayloadLength, 'responder IA').to.equal(ia)
            // Each side knows the other is one of ours exactly when an MSE handshake ran.
            expect([atInitiator.peerExtension, atResponder.peerExtension], 'peerExtension').to.deep.equal([ia > 0, ia > 0])

            const saw = await handshakes
            expect(saw.responderSaw).to.equal(`${pair.infoHash}/true`)
            expect(saw.initiatorSaw).to.equal(`${pair.infoHash}/true`)
            const { sent, received } = await exchangeBlocks(pair, BYTES_EACH_WAY)
            expect(received[0], 'initiator -> responder data').to.equal(sent[0])
            expect(received[1], 'responder -> initiator data').to.equal(sent[1])
            expectOnTheWire(pair.relay!.captured, want.method, pair.infoHash)
            // The streams count exactly what crossed the wire (handshake and payload, as sent). A round trip
            // each way first: everything either side wrote before it has then crossed the relay.
            await within(Promise.all([fetchBlocks(pair.initiator.wire, BLOCK_LENGTH), fetchBlocks(pair.responder.wire, BLOCK_LENGTH)]), 5000, 'a round trip each way')
            const up = Buffer.concat(pair.relay!.captured.up).length
            const down = Buffer.concat(pair.relay!.captured.down).length
            expect([pair.initiator.stream.bytesSent, pair.initiator.stream.bytesReceived], 'initiator byte counts').to.deep.equal([up, down])
            expect([pair.responder.stream.bytesSent, pair.responder.stream.bytesReceived], 'responder byte counts').to.deep.equal([down, up])
          } else {
            expect(atResponder.ok).to.equal(false)
            expect(atResponder.error?.code).to.equal(want.responderError)
            expect(atResponder.failedStage).to.equal('peer-key')
            if (want.initiator.ok) {
              expectConnected(atInitiator, 'plaintext', 'initiator')
            } else {
              expect(atInitiator.ok).to.equal(false)
              expect(atInitiator.error?.code).to.equal(want.initiator.error)
              expect(atInitiator.peerSentNoKey).to.equal(want.initiator.peerSentNoKey)
              expect(atInitiator.failedStage).to.equal('peer-key')
            }
            // Nothing half-alive is left: both Wires and both sockets close.
            await closed(pair.responder.wire, 5000, 'the responder Wire')
            await closed(pair.initiator.wire, 5000, 'the initiator Wire')
            await closed(pair.sockets.outgoing, 5000, 'the initiator socket')
            await closed(pair.sockets.incoming, 5000, 'the responder socket')
            // The refused side never answered with anything, let alone a BitTorrent handshake.
            expect(Buffer.concat(pair.relay!.captured.down).length, 'bytes the responder sent').to.equal(0)
          }
        } finally {
          pair.close()
        }
      })
    }
  }

  function expectConnected (outcome: MseOutcome, method: NegotiatedMethod, role: string): void {
    expect(outcome.ok, `${role} ok (${outcome.error?.message ?? ''})`).to.equal(true)
    expect(outcome.method, `${role} method`).to.equal(method)
    expect(outcome.role).to.equal(role)
    // peerSentNoKey belongs to failures only (MseFailure): a connection is no evidence for a plaintext retry.
    expect(outcome).to.not.have.property('peerSentNoKey')
  }

  /**
   * What crossed the wire must match the reported method: RC4 leaves neither the protocol header nor the
   * piece data visible; plaintext-after-mse hides the initiator's handshake (IA) but not the payload after
   * it; plaintext starts with the header both ways.
   */
  function expectOnTheWire (captured: { up: Buffer[], down: Buffer[] }, method: NegotiatedMethod, infoHash: string): void {
    const up = Buffer.concat(captured.up)
    const down = Buffer.concat(captured.down)
    const sampleUp = seededBytes(4096, `initiator:${infoHash}`).subarray(1000, 1064)
    const sampleDown = seededBytes(4096, `responder:${infoHash}`).subarray(1000, 1064)
    switch (method) {
      case 'rc4':
      case 'aes-128-ctr':
        for (const [bytes, sample] of [[up, sampleUp], [down, sampleDown]] as const) {
          expect(contains(bytes, PLAINTEXT_HEADER), `header visible under ${method}`).to.equal(false)
          expect(contains(bytes, sample), `piece data visible under ${method}`).to.equal(false)
        }
        break
      case 'plaintext-after-mse':
        expect(up.subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(false)
        expect(contains(up, PLAINTEXT_HEADER), 'initiator handshake visible despite IA').to.equal(false)
        expect(contains(up, sampleUp), 'payload after IA is plaintext').to.equal(true)
        expect(contains(down, sampleDown), 'payload after flight 4 is plaintext').to.equal(true)
        break
      case 'plaintext':
        expect(up.subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(true)
        expect(down.subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(true)
        break
    }
  }
})

describe('IA: the BitTorrent handshake inside flight 3', function () {
  this.timeout(20_000)
  failOnUncaught()

  for (const responderPolicy of ['preferred', 'tolerated'] as const) {
    it(`written before the peer key arrives: IA is 68 on both sides and the responder Wire sees it (${responderPolicy})`, async () => {
      const pair = await wirePair({ initiator: { policy: 'preferred' }, responder: { policy: responderPolicy } })
      try {
        const seen = awaitedLater(bittorrentHandshake(pair))
        const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
        expect(a.initialPayloadLength).to.equal(68)
        expect(b.initialPayloadLength).to.equal(68)
        // The IA was not also sent a second time as payload: the responder Wire parsed exactly one handshake
        // and the message stream after it is intact (a duplicate would derail the parser).
        expect((await seen).responderSaw).to.equal(`${pair.infoHash}/true`)
        const { sent, received } = await exchangeBlocks(pair, 256 * 1024)
        expect(received).to.deep.equal(sent)
      } finally {
        pair.close()
      }
    })
  }

  for (const responderPolicy of ['preferred', 'tolerated'] as const) {
    it(`written after the MSE handshake: no IA, still one BitTorrent handshake each way (${responderPolicy})`, async () => {
      const pair = await wirePair({ initiator: { policy: 'preferred' }, responder: { policy: responderPolicy } })
      try {
        const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
        expect(a.ok && b.ok).to.equal(true)
        expect(a.initialPayloadLength).to.equal(0)
        expect(b.initialPayloadLength).to.equal(0)
        const seen = await bittorrentHandshake(pair)
        expect(seen.responderSaw).to.equal(`${pair.infoHash}/true`)
        expect(seen.initiatorSaw).to.equal(`${pair.infoHash}/true`)
        const { sent, received } = await exchangeBlocks(pair, 256 * 1024)
        expect(received).to.deep.equal(sent)
      } finally {
        pair.close()
      }
    })
  }

  it('connect: plaintext (policy preferred) skips MSE: no IA, plaintext both ways, the responder detects it', async () => {
    const pair = await wirePair({ initiator: { policy: 'preferred', connect: 'plaintext' }, responder: { policy: 'preferred' }, relay: {} })
    try {
      const seen = awaitedLater(bittorrentHandshake(pair))
      const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
      expect([a.method, b.method]).to.deep.equal(['plaintext', 'plaintext'])
      expect([a.initialPayloadLength, b.initialPayloadLength]).to.deep.equal([0, 0])
      expect((await seen).responderSaw).to.equal(`${pair.infoHash}/true`)
      expect(Buffer.concat(pair.relay!.captured.up).subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(true)
    } finally {
      pair.close()
    }
  })

  it('sendHandshakeAsInitialPayload: false sends no IA even when the handshake is already written', async () => {
    const pair = await wirePair({ initiator: { policy: 'required', sendHandshakeAsInitialPayload: false, aes: false } })
    try {
      const seen = awaitedLater(bittorrentHandshake(pair))
      const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
      expect(a.method).to.equal('rc4')
      expect(a.initialPayloadLength).to.equal(0)
      expect(b.initialPayloadLength).to.equal(0)
      expect((await seen).responderSaw).to.equal(`${pair.infoHash}/true`)
    } finally {
      pair.close()
    }
  })
})
