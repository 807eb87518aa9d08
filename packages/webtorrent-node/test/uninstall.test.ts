/**
 * uninstallMsePatches: every member the patch wrapped gets upstream's own function back, a client with MSE
 * state then connects exactly as upstream does, and installing again brings MSE back.
 */
import { expect } from 'chai'
import { installMsePatches, isMsePatchInstalled, uninstallMsePatches } from '../src/index.js'
import { attachMseState } from '../src/client-state.js'
import { exposeMseStats } from '../src/patch/install.js'
import { originalOf, upstream } from '../src/patch/surface.js'
import type { UpstreamClient } from '../src/patch/upstream-types.js'
import { Fixtures, addressOf, contentHash, done, download, seed, wiresOf } from './helpers.js'
import { seededBytes, sha256 } from 'test-support'

const SIZE = 64 * 1024 + 5

/** The members the patch wraps, as they are now. */
function wrappedMembers (): Record<string, unknown> {
  return {
    add: upstream.WebTorrent.prototype.add,
    onConnection: upstream.ConnPool.prototype._onConnection,
    onConnect: upstream.Peer.prototype.onConnect
  }
}

describe('uninstallMsePatches', function () {
  this.timeout(30_000)
  const fx = new Fixtures()
  afterEach(async () => {
    await fx.cleanup()
    installMsePatches() // whatever happened, the process is left patched as the other tests expect
  })

  it('restores every wrapped member (and register mode\'s mseStats getter); a second uninstall does nothing', () => {
    installMsePatches()
    exposeMseStats(upstream)
    const patched = wrappedMembers()
    const originals = Object.fromEntries(Object.entries(patched).map(([name, fn]) => [name, originalOf(fn)]))
    for (const [name, fn] of Object.entries(patched)) expect(fn, `${name} is wrapped`).to.not.equal(originals[name])
    expect('mseStats' in upstream.WebTorrent.prototype).to.equal(true)

    expect(uninstallMsePatches()).to.equal(true)
    expect(wrappedMembers()).to.deep.equal(originals)
    expect('mseStats' in upstream.WebTorrent.prototype).to.equal(false)
    expect(isMsePatchInstalled()).to.equal(false)
    expect(uninstallMsePatches()).to.equal(false)
  })

  it('after uninstall a client that has MSE state ("required") connects like upstream: plaintext to a secure: 0 peer, no wire.mse', async () => {
    installMsePatches()
    const seeder = await fx.upstream(0)
    const data = seededBytes(SIZE, 61)
    const seeding = await seed(seeder, data)
    uninstallMsePatches()

    const client = await fx.upstream(0)
    // Patched, `required` would refuse this plaintext-only seeder (against-a-plaintext-only-peer tests).
    attachMseState(client as UpstreamClient, { encryption: 'required' })
    const torrent = download(client, seeding.torrentFile, [addressOf(seeder)])
    await done(torrent)
    expect(await contentHash(torrent)).to.equal(sha256(data))
    const [wire] = wiresOf(torrent)
    expect(wire.mse).to.equal(undefined)
  })

  it('installing again after uninstall works: two webtorrent-node clients connect over RC4', async () => {
    uninstallMsePatches()
    installMsePatches()
    expect(isMsePatchInstalled()).to.equal(true)
    const seeder = await fx.ours('required')
    const data = seededBytes(SIZE, 62)
    const seeding = await seed(seeder, data)
    const downloader = await fx.ours('required')
    const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
    await done(torrent)
    expect(await contentHash(torrent)).to.equal(sha256(data))
    const [wire] = wiresOf(torrent)
    expect(wire.mse).to.include({ role: 'initiator', method: 'rc4' })
  })
})
