/**
 * A redial keeps the transport of the dial that failed: webtorrent dials `addPeer` addresses over uTP first
 * when uTP is on, and the one plaintext retry after a refused MSE attempt goes over uTP again (it used to
 * be TCP whatever the first attempt was).
 */
import { expect } from 'chai'
import { Fixtures, addressOf, contentHash, done, download, seed, wiresOf } from './helpers.js'
import { seededBytes, sha256 } from 'test-support'

const SIZE = 128 * 1024 + 3

describe('redial over the transport of the failed dial', function () {
  this.timeout(30_000)
  const fx = new Fixtures()
  afterEach(() => fx.cleanup())

  it('preferred, over uTP, against upstream with secure: 0: the plaintext retry is a uTP connection', async () => {
    const seeder = await fx.upstream(0, { utp: true })
    const data = seededBytes(SIZE, 71)
    const seeding = await seed(seeder, data)
    const downloader = await fx.ours('preferred', { utp: true })
    const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
    await done(torrent)
    expect(await contentHash(torrent)).to.equal(sha256(data))

    const [wire] = wiresOf(torrent)
    expect(wire.mse).to.include({ role: 'initiator', attempt: 'plaintext', method: 'plaintext', fallback: true })
    expect(wire.type).to.equal('utpOutgoing')
    expect(downloader.mseStats.fallbacks).to.deep.equal({ toPlaintext: 1, toMse: 0 })
  })
})
