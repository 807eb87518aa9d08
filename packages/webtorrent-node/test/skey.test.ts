/**
 * SKEY across torrents: one `required` client serves several torrents on one port, so every incoming
 * connection is MSE and the responder must find the torrent from HASH('req2', SKEY) alone (the BitTorrent
 * handshake with the info hash only comes afterwards, encrypted). Includes a magnet that is still fetching
 * metadata (only its info hash is known) and a torrent removed from the client.
 */
import { expect } from 'chai'
import { Fixtures, addressOf, contentHash, done, download, seed, wiresOf } from './helpers.js'
import { seededBytes, sha256, until } from 'test-support'
import { mseStateOf } from '../src/client-state.js'

function skeysOf (client: any): { has: (infoHash: string) => boolean, size: number } {
  return mseStateOf(client)!.skeys
}

describe('SKEY lookup across the torrents of one client', function () {
  this.timeout(30_000)
  const fx = new Fixtures()
  after(() => fx.cleanup())

  let server: any
  const datasets: Buffer[] = []
  const seeded: any[] = []
  let magnetData: Buffer
  let magnetTorrent: any
  let magnetSource: any

  before(async () => {
    server = await fx.ours('required')
    for (let i = 0; i < 3; i++) {
      const data = seededBytes(384 * 1024 + i * 1000, 700 + i)
      datasets.push(data)
      seeded.push(await seed(server, data))
    }
    // A fourth torrent only another client has; the server knows it by magnet link only.
    magnetSource = await fx.ours('required')
    magnetData = seededBytes(300 * 1024 + 17, 704)
    const sourceTorrent = await seed(magnetSource, magnetData)
    magnetTorrent = download(server, `magnet:?xt=urn:btih:${sourceTorrent.infoHash}`, [])
    await until(() => magnetTorrent.infoHash !== undefined, 2000, 'the magnet\'s info hash')
  })

  it('registers every torrent\'s SKEY, including a magnet without metadata', () => {
    for (const torrent of seeded) expect(skeysOf(server).has(torrent.infoHash)).to.equal(true)
    expect(magnetTorrent.metadata ?? null).to.equal(null)
    expect(skeysOf(server).has(magnetTorrent.infoHash)).to.equal(true)
    expect(skeysOf(server).size).to.equal(4)
  })

  it('three downloaders, one per torrent, each reach the right torrent over RC4', async () => {
    const downloaders = await Promise.all(seeded.map(async () => await fx.ours('required')))
    const torrents = seeded.map((s, i) => download(downloaders[i], s.torrentFile, [addressOf(server)]))
    await Promise.all(torrents.map(async torrent => await done(torrent)))
    for (const [i, torrent] of torrents.entries()) {
      expect(await contentHash(torrent)).to.equal(sha256(datasets[i]!))
      expect(wiresOf(torrent)[0].mse).to.include({ role: 'initiator', method: 'rc4' })
    }
    // On the server, each connection landed in its own torrent.
    for (const torrent of seeded) {
      await until(() => wiresOf(torrent).length === 1, 2000, `a wire on ${torrent.infoHash}`)
      expect(wiresOf(torrent)[0].mse).to.include({ role: 'responder', method: 'rc4' })
    }
    expect(server.mseStats.connected.rc4).to.equal(3)
    expect(server.mseStats.errors).to.deep.equal({})
  })

  it('a peer dialling in for the magnet is matched by SKEY; the server then fetches metadata and data from it', async () => {
    const sourceTorrent = magnetSource.torrents[0]
    sourceTorrent.addPeer(addressOf(server))
    await done(magnetTorrent, 15_000)
    expect(await contentHash(magnetTorrent)).to.equal(sha256(magnetData))
    const [wire] = wiresOf(magnetTorrent)
    expect(wire.mse).to.include({ role: 'responder', method: 'rc4' })
    expect(magnetSource.mseStats.connected.rc4).to.equal(1)
    expect(server.mseStats.connected.rc4).to.equal(4)
  })

  it('after client.remove(torrent), an MSE connection for it fails with unknown-skey; the others still work', async () => {
    const removed = seeded[1]
    const infoHash = removed.infoHash
    const torrentFile = removed.torrentFile
    await new Promise<void>((resolve, reject) => { server.remove(removed, {}, (err?: Error) => err ? reject(err) : resolve()).catch(reject) })
    expect(skeysOf(server).has(infoHash)).to.equal(false)
    expect(skeysOf(server).has(seeded[0].infoHash)).to.equal(true)

    const late = await fx.ours('required')
    const torrent = download(late, torrentFile, [addressOf(server)])
    await until(() => (server.mseStats.errors['unknown-skey'] ?? 0) >= 1, 5000, 'unknown-skey on the server')
    expect(torrent.done).to.equal(false)
    expect(wiresOf(torrent)).to.have.length(0)
    expect(late.mseStats.connected.rc4).to.equal(0)

    const other = await fx.ours('required')
    const again = download(other, seeded[2].torrentFile, [addressOf(server)])
    await done(again)
    expect(await contentHash(again)).to.equal(sha256(datasets[2]!))
  })

  it('a duplicate add that webtorrent destroys does not unregister the torrent it duplicates', async () => {
    const original = seeded[0]
    const errors: Error[] = []
    const duplicate = server.add(original.torrentFile, { announce: [] })
    duplicate.on('error', (err: Error) => errors.push(err))
    await until(() => duplicate.destroyed === true, 3000, 'webtorrent to destroy the duplicate')
    expect(server.torrents).to.include(original)
    expect(skeysOf(server).has(original.infoHash)).to.equal(true)

    const downloader = await fx.ours('required')
    const torrent = download(downloader, original.torrentFile, [addressOf(server)])
    await done(torrent)
    expect(await contentHash(torrent)).to.equal(sha256(datasets[0]!))
  })
})
