/**
 * TCP does not keep write boundaries. A relay between the two sockets re-cuts the byte stream: at random
 * (seeded) sizes, one byte per segment through all the handshake flights, or merged so that flight 4 and
 * the peer's first BitTorrent messages arrive in one read. None of it may change the outcome or a byte of
 * the data.
 */
import { expect } from 'chai'
import type { EncryptionPolicy, NegotiatedMethod } from 'mse-core'
import { BLOCK_LENGTH, bittorrentHandshake, exchangeBlocks, roomyPads, wirePair, type PairOptions } from './helpers.js'
import { type RelayOptions, awaitedLater, byteByByte, coalesce, failOnUncaught, rechunk, seededBytes, sha256, within } from 'test-support'

interface Case {
  name: string
  initiator: EncryptionPolicy
  responder: EncryptionPolicy
  ia: boolean
  method: NegotiatedMethod
}

/** RC4 cases run with AES off; the AES case pins pads where the extension fits (roomyPads). */
function sessionOptions (c: Case): { aes: boolean, provider?: typeof roomyPads } {
  return c.method === 'aes-128-ctr' ? { aes: true, provider: roomyPads } : { aes: false }
}

const CASES: Case[] = [
  { name: 'rc4', initiator: 'preferred', responder: 'preferred', ia: true, method: 'rc4' },
  { name: 'rc4 without IA', initiator: 'required', responder: 'required', ia: false, method: 'rc4' },
  { name: 'aes-128-ctr', initiator: 'preferred', responder: 'preferred', ia: true, method: 'aes-128-ctr' },
  { name: 'plaintext-after-mse', initiator: 'preferred', responder: 'tolerated', ia: true, method: 'plaintext-after-mse' },
  { name: 'plaintext-after-mse without IA', initiator: 'tolerated', responder: 'tolerated', ia: false, method: 'plaintext-after-mse' },
  { name: 'plaintext', initiator: 'disabled', responder: 'preferred', ia: false, method: 'plaintext' }
]

const BYTES_EACH_WAY = 1024 * 1024

async function runThrough (relay: RelayOptions, c: Case): Promise<{ chunksIn: { initiator: number[], responder: number[] } }> {
  const chunksIn = { initiator: [] as number[], responder: [] as number[] }
  const options: PairOptions = {
    initiator: { policy: c.initiator, sendHandshakeAsInitialPayload: c.ia, ...sessionOptions(c) },
    responder: { policy: c.responder, ...sessionOptions(c) },
    relay,
    beforeWire ({ outgoing, incoming }) {
      outgoing.on('data', (chunk: Buffer) => chunksIn.initiator.push(chunk.length))
      incoming.on('data', (chunk: Buffer) => chunksIn.responder.push(chunk.length))
    }
  }
  const pair = await wirePair(options)
  try {
    const seen = awaitedLater(bittorrentHandshake(pair, 15_000))
    const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 15_000, 'outcomes')
    expect(a.ok, a.error?.message).to.equal(true)
    expect(b.ok, b.error?.message).to.equal(true)
    expect(a.method).to.equal(c.method)
    expect(b.method).to.equal(c.method)
    const ia = c.ia && c.method !== 'plaintext' ? 68 : 0
    expect(a.initialPayloadLength).to.equal(ia)
    expect(b.initialPayloadLength).to.equal(ia)
    const saw = await seen
    expect(saw.responderSaw).to.equal(`${pair.infoHash}/true`)
    expect(saw.initiatorSaw).to.equal(`${pair.infoHash}/true`)
    const { sent, received } = await exchangeBlocks(pair, BYTES_EACH_WAY, 20_000)
    expect(received[0], 'initiator -> responder').to.equal(sent[0])
    expect(received[1], 'responder -> initiator').to.equal(sent[1])
    return { chunksIn }
  } finally {
    pair.close()
  }
}

describe('re-chunked TCP: random segment sizes (seeded)', function () {
  this.timeout(30_000)
  failOnUncaught()

  for (const seed of [1, 2, 3]) {
    for (const c of CASES) {
      it(`seed ${seed}, ${c.name}: same method, same bytes`, async () => {
        // Small pieces through the handshake (1..97 bytes) on one side, larger ones on the other.
        await runThrough({ up: rechunk(seed, 97), down: rechunk(seed * 7919, 1500) }, c)
      })
    }
  }
})

describe('re-chunked TCP: one byte per segment through every handshake flight', function () {
  this.timeout(30_000)
  failOnUncaught()

  for (const c of CASES) {
    it(`${c.name}: the first 1500 bytes each way byte by byte, then large chunks`, async () => {
      const { chunksIn } = await runThrough({ up: byteByByte(1500), down: byteByByte(1500) }, c)
      // The relay really did split the flights: the first reads on each side were (mostly) single bytes.
      expect(chunksIn.responder.slice(0, 200).filter(n => n === 1).length).to.be.greaterThan(100)
      expect(chunksIn.initiator.slice(0, 200).filter(n => n === 1).length).to.be.greaterThan(100)
    })
  }
})

describe('coalesced TCP: flight 4 and the first BitTorrent messages in one read', function () {
  this.timeout(20_000)
  failOnUncaught()

  const PIECES = 8

  for (const [name, responderPolicy, method] of [
    ['rc4', 'preferred', 'rc4'],
    ['plaintext-after-mse', 'tolerated', 'plaintext-after-mse']
  ] as const) {
    it(`${name}: handshake, bitfield, unchoke and ${PIECES} pieces arrive with flight 4, in order, each once`, async () => {
      const chunksIn: number[] = []
      const pair = await wirePair({
        initiator: { policy: 'preferred', aes: false },
        responder: { policy: responderPolicy },
        // Everything one side sends within 30 ms of quiet goes out as one write of at most 60000 bytes.
        relay: { up: coalesce(30, 60_000), down: coalesce(30, 60_000) },
        beforeWire ({ outgoing }) { outgoing.on('data', (chunk: Buffer) => chunksIn.push(chunk.length)) }
      })
      try {
        const blocks = Array.from({ length: PIECES }, (_, i) => seededBytes(BLOCK_LENGTH, `block ${i} ${pair.infoHash}`))
        // The responder answers the IA at once with its whole opening: all of it follows flight 4 within
        // the same turn of the event loop, so the relay merges it with flight 4.
        pair.responder.wire.once('handshake', (infoHash: any) => {
          const wire = pair.responder.wire
          wire.handshake(infoHash, Buffer.alloc(20, 7).toString('hex'))
          wire.bitfield(Buffer.from([0xff]))
          wire.unchoke()
          blocks.forEach((block, i) => wire.piece(i, 0, block))
        })
        const events: string[] = []
        const got: string[] = []
        const done = new Promise<void>(resolve => {
          const wire = pair.initiator.wire
          wire.on('handshake', () => events.push('handshake'))
          wire.on('bitfield', () => events.push('bitfield'))
          wire.on('unchoke', () => events.push('unchoke'))
          wire.on('piece', (index: any, _offset: any, block: any) => {
            events.push(`piece ${index}`)
            got.push(sha256(block))
            if (got.length === PIECES) resolve()
          })
        })
        pair.initiator.wire.handshake(pair.infoHash, Buffer.alloc(20, 9).toString('hex'))
        const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
        expect(a.method).to.equal(method)
        expect(b.method).to.equal(method)
        await within(done, 10_000, `${PIECES} pieces`)
        await new Promise(resolve => setTimeout(resolve, 50)) // anything duplicated would show up now
        expect(events).to.deep.equal(['handshake', 'bitfield', 'unchoke', ...blocks.map((_, i) => `piece ${i}`)])
        expect(got).to.deep.equal(blocks.map(block => sha256(block)))
        // The test did what it says: the read after Yb/PadB (at most 608 bytes) carried flight 4 (at most
        // 526 bytes) together with at least the handshake, the bitfield and the first whole piece.
        expect(chunksIn[0]).to.be.at.most(608)
        expect(chunksIn[1]).to.be.greaterThan(526 + 68 + 6 + 5 + 13 + BLOCK_LENGTH)
      } finally {
        pair.close()
      }
    })
  }
})
