/**
 * The payload write path: writes queued in one tick are encrypted as one keystream run and reach the
 * socket in few calls (a BitTorrent message header and its block, a burst of requests), never touching the
 * writer's buffers, and the bytes decrypt to what was written, in order.
 */
import { expect } from 'chai'
import { Rc4, nodeCryptoProvider, type StreamCipher } from 'mse-core'
import { BATCH_RUN_BYTES, sealBatch } from '../src/write-batch.js'
import { readBytes, seededBytes, within } from 'test-support'
import { roomyPads, streamPair } from './helpers.js'

function ciphers (): Array<{ name: string, make: () => StreamCipher }> {
  const key = seededBytes(16, 'batch key')
  const counter = seededBytes(16, 'batch counter')
  return [
    { name: 'AES-128-CTR (OpenSSL)', make: () => nodeCryptoProvider.createAes128Ctr(key, counter) },
    { name: 'RC4 (JavaScript)', make: () => new Rc4(key) }
  ]
}

describe('write batches: one keystream run per batch', () => {
  for (const { name, make } of ciphers()) {
    it(`${name}: the pieces are the one-call ciphertext of the joined chunks, cut at most every BATCH_RUN_BYTES; the chunks are untouched`, () => {
      const sizes = [13, 16384, 13, 16384, 17, 17, 0, 200_000, 5, BATCH_RUN_BYTES, 1]
      const chunks = sizes.map((size, i) => seededBytes(size, `chunk ${i}`))
      const copies = chunks.map(chunk => Buffer.from(chunk))
      const pieces = sealBatch(make(), chunks)
      const joined = Buffer.concat(chunks)
      expect(Buffer.concat(pieces).equals(Buffer.from(make().process(joined)))).to.equal(true)
      chunks.forEach((chunk, i) => expect(Buffer.from(chunk).equals(copies[i]!), `chunk ${i} untouched`).to.equal(true))
      // Joined runs stay within the bound; only a chunk larger than it is a piece of its own.
      for (const piece of pieces) if (piece.length > BATCH_RUN_BYTES) expect(sizes).to.include(piece.length)
      // 11 chunks, far fewer cipher calls: [13..17, 0] | [200000] | [5] | [65536] | [1] at most.
      expect(pieces.length).to.be.at.most(5)
    })
  }

  it('without a cipher (plaintext), the chunks themselves', () => {
    const chunks = [seededBytes(10, 'a'), seededBytes(20, 'b')]
    expect(sealBatch(undefined, chunks)).to.deep.equal(chunks)
  })

  it('over a socket: 64 small writes in one tick reach the raw socket in at most a few write() calls, and arrive intact', async () => {
    const pair = await streamPair({ initiator: { provider: roomyPads }, responder: { provider: roomyPads } })
    try {
      const outcomes = await within(Promise.all([pair.initiator.handshake, pair.responder.handshake]), 5000, 'both handshakes')
      expect(outcomes.map(o => o.method)).to.deep.equal(['aes-128-ctr', 'aes-128-ctr'])
      const writes: number[] = []
      const write = pair.sockets.outgoing.write.bind(pair.sockets.outgoing) as (data: Uint8Array) => boolean
      pair.sockets.outgoing.write = ((data: Uint8Array) => { writes.push(data.length); return write(data) }) as typeof pair.sockets.outgoing.write
      const messages = Array.from({ length: 64 }, (_, i) => seededBytes(17, `request ${i}`))
      const expected = Buffer.concat(messages)
      const received = readBytes(pair.responder, expected.length)
      for (const message of messages) pair.initiator.write(message)
      expect((await within(received, 5000, 'the 64 messages')).equals(expected)).to.equal(true)
      // One batch per streamx tick: the first write goes alone, the other 63 together.
      expect(writes.length, `socket writes ${JSON.stringify(writes)}`).to.be.at.most(4)
    } finally {
      pair.close()
    }
  })
})
