/**
 * A responder that serves many torrents finds the one the initiator asks for by HASH('req2', SKEY), and
 * refuses a torrent it does not serve.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { SkeyRegistry } from 'mse-core'
import { bittorrentHandshake, exchangeBlocks, wirePair } from './helpers.js'
import { awaitedLater, closed, failOnUncaught, within } from 'test-support'

describe('a responder serving 1,000 torrents', function () {
  this.timeout(20_000)
  failOnUncaught()

  const hashes = Array.from({ length: 1000 }, () => randomBytes(20).toString('hex'))
  const registry = new SkeyRegistry()
  before(() => {
    for (const hash of hashes) registry.add(hash)
    expect(registry.size).to.equal(1000)
  })

  for (const index of [0, 537, 999]) {
    it(`finds torrent #${index} and carries its BitTorrent connection`, async () => {
      const pair = await wirePair({ infoHash: hashes[index], skeys: registry, initiator: { policy: 'required' } })
      try {
        const seen = awaitedLater(bittorrentHandshake(pair))
        const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
        expect(b.ok, b.error?.message).to.equal(true)
        expect(b.infoHash).to.equal(hashes[index])
        expect(a.infoHash).to.equal(hashes[index])
        expect((await seen).responderSaw).to.equal(`${hashes[index]}/true`)
        const { sent, received } = await exchangeBlocks(pair, 256 * 1024)
        expect(received).to.deep.equal(sent)
      } finally {
        pair.close()
      }
    })
  }

  it('an unknown info hash: responder unknown-skey, initiator peer-closed after the key, once the responder stops lingering', async () => {
    // The responder lingers until its stage would have timed out: a short stage timeout keeps that small.
    const pair = await wirePair({ infoHash: randomBytes(20).toString('hex'), skeys: registry, responder: { stageTimeoutMs: 500 } })
    try {
      pair.initiator.wire.handshake(pair.infoHash, randomBytes(20).toString('hex'))
      const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
      expect(b.ok).to.equal(false)
      expect(b.error?.code).to.equal('unknown-skey')
      expect(b.failedStage).to.equal('sync')
      expect(a.ok).to.equal(false)
      expect(a.error?.code).to.equal('peer-closed')
      expect(a.peerSentNoKey).to.equal(false) // the key came: MSE works, the torrent is not there
      await closed(pair.initiator.wire, 5000, 'the initiator Wire')
      await closed(pair.sockets.outgoing, 5000, 'the initiator socket')
    } finally {
      pair.close()
    }
  })

  it('a torrent removed from the registry is refused from then on; one added is found', async () => {
    const removed = hashes[10]!
    const added = randomBytes(20).toString('hex')
    registry.delete(removed)
    registry.add(added)
    try {
      const gone = await wirePair({ infoHash: removed, skeys: registry })
      try {
        const outcome = await within(gone.responder.stream.handshake, 10_000, 'outcome')
        expect(outcome.error?.code).to.equal('unknown-skey')
      } finally {
        gone.close()
      }
      const fresh = await wirePair({ infoHash: added, skeys: registry })
      try {
        const outcome = await within(fresh.responder.stream.handshake, 10_000, 'outcome')
        expect(outcome.infoHash).to.equal(added)
      } finally {
        fresh.close()
      }
    } finally {
      registry.add(removed)
      registry.delete(added)
    }
  })

  it('a v2 (SHA-256) info hash is matched by its first 20 bytes', async () => {
    const v2 = randomBytes(32).toString('hex')
    const skeys = new SkeyRegistry()
    for (const hash of hashes.slice(0, 100)) skeys.add(hash)
    skeys.add(v2)
    const pair = await wirePair({ infoHash: v2, skeys })
    try {
      const [a, b] = await within(Promise.all([pair.initiator.stream.handshake, pair.responder.stream.handshake]), 10_000, 'outcomes')
      expect(a.ok && b.ok).to.equal(true)
      expect(b.infoHash).to.equal(v2.slice(0, 40))
      expect(a.infoHash).to.equal(v2.slice(0, 40))
    } finally {
      pair.close()
    }
  })
})
