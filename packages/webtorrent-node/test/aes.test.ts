/**
 * AES-128-CTR between two webtorrent-node clients (issue 13): negotiated inside the authenticated
 * PadC/PadD extension, on by default, off with `mseAes: false`. The exact negotiation, tampering and the
 * pads are tested in mse-core and mse-wire; here: the option reaches the wire and `wire.mse` reports the
 * cipher and whether the peer runs the extension.
 */
import { expect } from 'chai'
import WebTorrent from '../src/index.js'
import { Fixtures, QUIET, addressOf, contentHash, done, download, seed, wiresOf } from './helpers.js'
import { seededBytes, sha256 } from 'test-support'

/** With AES on, a connection between two of ours runs RC4 only when a drawn pad was too short (~6%). */
const ENCRYPTED = ['aes-128-ctr', 'rc4']

describe('AES-128-CTR between two webtorrent-node clients', function () {
  this.timeout(30_000)
  const fx = new Fixtures()
  afterEach(() => fx.cleanup())

  for (const [seederPolicy, downloaderPolicy] of [['required', 'required'], ['preferred', 'preferred'], ['preferred', 'required']] as const) {
    it(`${seederPolicy} seeder x ${downloaderPolicy} downloader, default options: the same cipher both sides, AES unless the pads were too short`, async () => {
      const seeder = await fx.ours(seederPolicy, { mseAes: true })
      const downloader = await fx.ours(downloaderPolicy, { mseAes: true })
      const data = seededBytes(512 * 1024 + 3, 1301)
      const seeding = await seed(seeder, data)
      const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
      await done(torrent)
      expect(await contentHash(torrent)).to.equal(sha256(data))
      const ours = wiresOf(torrent)[0].mse
      const theirs = wiresOf(seeding)[0].mse
      expect(ENCRYPTED).to.include(ours.method)
      expect(theirs.method).to.equal(ours.method)
      if (ours.method === 'aes-128-ctr') expect([ours.peerExtension, theirs.peerExtension]).to.deep.equal([true, true])
      expect(downloader.mseStats.connected.rc4 + downloader.mseStats.connected['aes-128-ctr']).to.equal(1)
    })
  }

  it('mseAes: false on either side: RC4', async () => {
    for (const [seederAes, downloaderAes] of [[false, true], [true, false]]) {
      const seeder = await fx.ours('required', { mseAes: seederAes })
      const downloader = await fx.ours('required', { mseAes: downloaderAes })
      const seeding = await seed(seeder, seededBytes(256 * 1024, 1302))
      const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
      await done(torrent)
      expect(wiresOf(torrent)[0].mse.method, `seeder ${seederAes}, downloader ${downloaderAes}`).to.equal('rc4')
      await fx.cleanup()
    }
  })

  it('mseAes must be a boolean', () => {
    // @ts-expect-error a JavaScript caller's wrong type, which the constructor must reject at run time
    expect(() => new WebTorrent({ ...QUIET, mseAes: 'no' })).to.throw(TypeError, /mseAes/)
  })
})
