/**
 * What happens to a connection after its MSE handshake fails or is abandoned, and what the counters say.
 *
 * The first three cases fail on the code as written (see the report): an outgoing MseStream whose
 * handshake fails, or that is destroyed mid-handshake, never runs its `_destroy`. streamx only calls
 * `_destroy` once no `_write` is active, and MseStream holds the callback of the Wire's first write (the
 * BitTorrent handshake) until the handshake completes; so the raw socket stays open and, for a failed
 * handshake, webtorrent's Peer stays registered and blocks upstream's reconnect of that address.
 */
import net from 'node:net'
import { expect } from 'chai'
import { Fixtures, addressOf, contentHash, done, download, nextFailure, portOf, seed } from './helpers.js'
import { LOOPBACK, awaitedLater, seededBytes, sha256, until, within } from 'test-support'

interface FakePeer {
  port: number
  accepted: number
  /** Resolves when the first accepted connection is closed from our side (or at all). */
  firstClosed: Promise<void>
}

/** A TCP listener standing in for a peer; `answer` decides what it does with each connection. */
async function fakePeer (fx: Fixtures, answer: (socket: net.Socket) => void): Promise<FakePeer> {
  const sockets = new Set<net.Socket>()
  let resolveClosed!: () => void
  const peer: FakePeer = { port: 0, accepted: 0, firstClosed: new Promise(resolve => { resolveClosed = resolve }) }
  const server = net.createServer(socket => {
    peer.accepted += 1
    const first = peer.accepted === 1
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => { if (first) resolveClosed() })
    socket.resume() // keep reading, so a FIN or RST from the other side is noticed
    answer(socket)
  })
  await new Promise<void>(resolve => server.listen(0, LOOPBACK, resolve))
  peer.port = (server.address() as net.AddressInfo).port
  fx.onCleanup(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return peer
}

describe('connection lifecycle after a failed or abandoned MSE handshake', function () {
  this.timeout(20_000)
  const fx = new Fixtures()
  afterEach(() => fx.cleanup())

  it('an incoming handshake that fails is counted at once and closed by us once its linger ends (responder side)', async () => {
    // Probe resistance: the failed connection stays open until its stage would have timed out (plus a
    // random delay of at most a third of it), so a short stage timeout keeps the wait small.
    const stageTimeoutMs = 500
    const seeder = await fx.ours('preferred', { mseStageTimeoutMs: stageTimeoutMs })
    const socket = net.connect(portOf(seeder), LOOPBACK)
    socket.on('error', () => {})
    const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
    socket.write(Buffer.alloc(96))
    socket.resume()
    await until(() => seeder.mseStats.errors['degenerate-key'] === 1, 5000, 'the failure to be counted')
    expect(socket.destroyed, 'still open right after the failure').to.equal(false)
    await within(closed, 5000, 'our side to close the connection')
  })

  it('destroying the client closes a connection that lingers after a failed handshake', async () => {
    const seeder = await fx.ours('preferred') // default stage timeout: the linger would last 30 s or more
    const socket = net.connect(portOf(seeder), LOOPBACK)
    socket.on('error', () => {})
    const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
    socket.write(Buffer.alloc(96))
    socket.resume()
    await until(() => seeder.mseStats.errors['degenerate-key'] === 1, 5000, 'the failure to be counted')
    await new Promise<void>(resolve => seeder.destroy(() => resolve()))
    await within(closed, 3000, 'the lingering connection to close with the client')
  })

  it('an outgoing handshake that fails is closed by us (initiator side) [fails: held write blocks _destroy]', async () => {
    const peer = await fakePeer(fx, socket => { socket.once('data', () => socket.write(Buffer.alloc(96))) })
    const downloader = await fx.ours('required')
    download(downloader, `magnet:?xt=urn:btih:${seededBytes(20, 61).toString('hex')}`, [`${LOOPBACK}:${peer.port}`])
    await until(() => (downloader.mseStats.errors['degenerate-key'] ?? 0) >= 1, 5000, 'degenerate-key')
    await within(peer.firstClosed, 3000, 'our side to close the connection after degenerate-key')
  })

  it('destroying the client mid-handshake closes the socket [fails: held write blocks _destroy]', async () => {
    const peer = await fakePeer(fx, () => { /* accepts and never answers */ })
    const downloader = await fx.ours('required')
    download(downloader, `magnet:?xt=urn:btih:${seededBytes(20, 62).toString('hex')}`, [`${LOOPBACK}:${peer.port}`])
    await until(() => peer.accepted === 1 && downloader.mseStats.attempts.mse === 1, 5000, 'our MSE attempt')
    await new Promise<void>(resolve => downloader.destroy(() => resolve()))
    await within(peer.firstClosed, 3000, 'the socket to close after client.destroy()')
  })

  it('a refused MSE attempt frees the peer, so webtorrent\'s reconnect dials it again [fails: the Peer is never destroyed]', async () => {
    // required against disabled: the seeder hangs up on our key. webtorrent re-adds a closed outgoing peer
    // after 1 s (then 5 s, 15 s); that only works if the failed Peer was removed from the swarm.
    const seeder = await fx.ours('disabled')
    const seeding = await seed(seeder, seededBytes(64 * 1024, 63))
    const downloader = await fx.ours('required')
    const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
    await until(() => downloader.mseStats.attempts.mse >= 1, 3000, 'the first attempt')
    await until(() => downloader.mseStats.attempts.mse >= 2, 4000, 'webtorrent\'s reconnect (after 1 s)')
    // The seeder refuses the second key once it has read 20 bytes of it, which may be after our dial is
    // counted (the key leaves in a few writes): wait for that, rather than assume it came first.
    await until(() => (seeder.mseStats.errors['encryption-refused'] ?? 0) >= 2, 4000, 'the seeder to refuse the second key')
    expect(torrent.progress).to.equal(0)
  })

  describe('mseStats.connected counts established connections only', () => {
    it('a plaintext dial the peer hangs up on is not a connection [fails: counted when dialled]', async () => {
      const seeder = await fx.ours('required')
      const seeding = await seed(seeder, seededBytes(64 * 1024, 64))
      const downloader = await fx.ours('disabled')
      const refused = awaitedLater(Promise.all([nextFailure(seeder, 'responder'), nextFailure(downloader, 'initiator')]))
      const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
      await within(refused, 10_000, 'both sides to report the refused connection')
      expect(torrent.done).to.equal(false)
      expect(seeder.mseStats.errors['plaintext-refused']).to.be.at.least(1)
      expect(downloader.mseStats.attempts.plaintext).to.be.at.least(1)
      expect(downloader.mseStats.connected).to.deep.equal({ rc4: 0, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
    })

    it('tolerated -> required: one connection (RC4 retry), not one plaintext and one RC4 [fails: counted when dialled]', async () => {
      const seeder = await fx.ours('required')
      const data = seededBytes(256 * 1024, 65)
      const seeding = await seed(seeder, data)
      const downloader = await fx.ours('tolerated')
      const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
      await done(torrent)
      expect(await contentHash(torrent)).to.equal(sha256(data))
      expect(downloader.mseStats.fallbacks.toMse).to.equal(1)
      expect(downloader.mseStats.connected).to.deep.equal({ rc4: 1, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
    })
  })
})
