/**
 * `preferred` and `required` against a peer that speaks no MSE at all: webtorrent-node with `disabled`, and
 * unmodified upstream webtorrent 3 with `secure: 0` (bittorrent-protocol's Wire with PE off, which ends the
 * connection as soon as the first byte is not 19). Every connection goes through a recording TCP relay on
 * 127.0.0.1, so the assertions about plaintext are about the bytes that actually crossed the wire.
 */
import { expect } from 'chai'
import { Fixtures, contentHash, done, download, nextFailure, seed, wiresOf } from './helpers.js'
import { PLAINTEXT_HEADER, awaitedLater, seededBytes, sha256, startRelay, until, within } from 'test-support'

const SIZE = 512 * 1024 + 77
/** Bound on the report of a refused connection (it comes within a second; a loaded machine is slow). */
const REFUSAL_BOUND_MS = 10_000

const plaintextOnlySeeders = [
  { name: 'webtorrent-node with encryption "disabled"', make: async (fx: Fixtures) => await fx.ours('disabled') },
  { name: 'upstream webtorrent 3 with secure: 0', make: async (fx: Fixtures) => await fx.upstream(0) }
]

describe('against a plaintext-only peer', function () {
  this.timeout(20_000)
  const fx = new Fixtures()
  afterEach(() => fx.cleanup())

  for (const { name, make } of plaintextOnlySeeders) {
    describe(name, () => {
      it('preferred: exactly one MSE attempt, then plaintext; the next connection dials plaintext directly', async () => {
        const seeder = await make(fx)
        const first = seededBytes(SIZE, 21)
        const second = seededBytes(SIZE, 22)
        const seedingFirst = await seed(seeder, first)
        const seedingSecond = await seed(seeder, second)
        const relay = await startRelay(seeder.address().port)
        fx.onCleanup(() => relay.close())

        const downloader = await fx.ours('preferred')
        const torrent = download(downloader, seedingFirst.torrentFile, [relay.address])
        await done(torrent)
        expect(await contentHash(torrent)).to.equal(sha256(first))

        const [wire] = wiresOf(torrent)
        expect(wire.mse).to.include({ role: 'initiator', attempt: 'plaintext', method: 'plaintext', fallback: true })
        let stats = downloader.mseStats
        expect(stats.attempts).to.deep.equal({ mse: 1, plaintext: 1 })
        expect(stats.fallbacks).to.deep.equal({ toPlaintext: 1, toMse: 0 })
        expect(stats.errors).to.deep.equal({ 'peer-closed': 1 })
        expect(stats.connected.rc4 + stats.connected['plaintext-after-mse']).to.equal(0)

        // On the wire: the MSE attempt (our key and pad, 96..608 bytes, answered by nothing), then plaintext.
        expect(relay.connections).to.have.length(2)
        const mseUp = relay.upBytes(0)
        expect(mseUp.length).to.be.within(96, 608)
        expect(mseUp.includes(PLAINTEXT_HEADER)).to.equal(false)
        expect(relay.downBytes(0).length, 'the plaintext-only peer hung up without a byte').to.equal(0)
        expect(relay.upBytes(1).subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(true)

        // Later, another torrent from the same peer: peer memory says MSE was rejected, so plaintext first.
        const torrent2 = download(downloader, seedingSecond.torrentFile, [relay.address])
        await done(torrent2)
        expect(await contentHash(torrent2)).to.equal(sha256(second))
        const [wire2] = wiresOf(torrent2)
        expect(wire2.mse).to.include({ role: 'initiator', attempt: 'plaintext', method: 'plaintext', fallback: false })
        stats = downloader.mseStats
        expect(stats.attempts).to.deep.equal({ mse: 1, plaintext: 2 }, 'no second MSE attempt')
        expect(stats.fallbacks).to.deep.equal({ toPlaintext: 1, toMse: 0 })
        expect(relay.connections).to.have.length(3)
        expect(relay.upBytes(2).subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(true)
      })

      it('required: no connection, and not one plaintext BitTorrent byte in either direction', async () => {
        const seeder = await make(fx)
        const data = seededBytes(SIZE, 23)
        const seeding = await seed(seeder, data)
        const relay = await startRelay(seeder.address().port)
        fx.onCleanup(() => relay.close())

        const downloader = await fx.ours('required')
        const refused = awaitedLater(nextFailure(downloader, 'initiator'))
        const torrent = download(downloader, seeding.torrentFile, [relay.address])
        // Our report of the refused dial comes with the retry decision (none under required).
        await within(refused, REFUSAL_BOUND_MS, 'our report of the refused connection')
        expect(torrent.done).to.equal(false)
        expect(torrent.progress).to.equal(0)
        expect(wiresOf(torrent)).to.have.length(0)

        expect(relay.connections.length).to.be.at.least(1)
        expect(relay.sawPlaintextHeader(), 'a plaintext BitTorrent handshake crossed the relay').to.equal(false)
        for (let i = 0; i < relay.connections.length; i++) {
          const up = relay.upBytes(i)
          expect(up.length, 'our MSE key and pad').to.be.within(96, 608)
          expect(relay.downBytes(i).length).to.equal(0)
        }
        const stats = downloader.mseStats
        expect(stats.attempts.plaintext).to.equal(0)
        expect(stats.attempts.mse).to.be.at.least(1)
        expect(stats.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
        expect(stats.errors['peer-closed']).to.be.at.least(1)
        expect(stats.connected).to.deep.equal({ rc4: 0, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
        await until(() => relay.connections.every(c => c.closed), 2000, 'the relayed connections to close')
      })
    })
  }
})
