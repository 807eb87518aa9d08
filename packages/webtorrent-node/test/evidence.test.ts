/**
 * Evidence-based fallback under `preferred`: a peer that announced MSE (ut_pex flag 0x01, BEP 10 `e: 1`,
 * a tracker's crypto_flags) or completed MSE with us is never redialled in plaintext after a reset. The
 * end-to-end case puts an on-path relay between the two clients that resets the first MSE attempt.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import bencode from 'bencode'
import Wire from 'bittorrent-protocol'
import utPex from 'ut_pex'
import { mseStateOf } from '../src/client-state.js'
import type { UpstreamClient, UpstreamTorrent } from '../src/patch/upstream-types.js'
import { collectEvidence, cryptoPeers } from '../src/patch/evidence.js'
import { PeerMemory } from '../src/dial/peer-memory.js'
import { emptyStats } from '../src/stats.js'
import { Fixtures, contentHash, done, download, fakeTracker, portOf, seed } from './helpers.js'
import { LOOPBACK, PLAINTEXT_HEADER, seededBytes, sha256, startRelay, within } from 'test-support'

const compact = (ip: string, port: number): Buffer => Buffer.from([...ip.split('.').map(Number), port >> 8, port & 0xff])

function freshState (): any {
  return { policy: 'preferred', memory: new PeerMemory(), stats: emptyStats() }
}

describe('evidence that a peer speaks MSE', () => {
  it('tracker: crypto_flags bit 0x01 marks the compact peer at the same index', () => {
    const peers = Buffer.concat([compact('10.0.0.1', 6881), compact('10.0.0.2', 6882), compact('10.0.0.3', 51413)])
    expect(cryptoPeers({ peers, crypto_flags: Uint8Array.from([1, 0, 3]) })).to.deep.equal(['10.0.0.1:6881', '10.0.0.3:51413'])
    // Fewer flags than peers: the rest carry no hint. No flags, or a dictionary peer list: none.
    expect(cryptoPeers({ peers, crypto_flags: Uint8Array.from([0, 1]) })).to.deep.equal(['10.0.0.2:6882'])
    expect(cryptoPeers({ peers })).to.deep.equal([])
    expect(cryptoPeers({ peers: [{ ip: '10.0.0.1', port: 1 }], crypto_flags: Uint8Array.from([1]) })).to.deep.equal([])
  })

  it('ut_pex: a peer added with flag 0x01 is recorded, one without it is not (the real ut_pex decoder)', () => {
    const state = freshState()
    const torrent = new EventEmitter()
    collectEvidence(torrent as unknown as UpstreamTorrent, state)
    const wire = new (Wire as any)('tcpOutgoing', 0)
    wire.use(utPex())
    torrent.emit('wire', wire, '127.0.0.9:7000')
    const added = Buffer.concat([compact('10.1.1.1', 1111), compact('10.1.1.2', 2222)])
    wire.ut_pex.onMessage(bencode.encode({ added, 'added.f': Buffer.from([0x01 | 0x10, 0x10]) }))
    expect(state.memory.get('10.1.1.1:1111').evidence).to.equal('pex')
    expect(state.memory.get('10.1.1.2:2222')).to.deep.equal({})
    wire.destroy()
  })

  it('BEP 10: e = 1 in the extended handshake, stored under the listen port it sent (two real Wires)', async () => {
    const state = freshState()
    const torrent = new EventEmitter()
    collectEvidence(torrent as unknown as UpstreamTorrent, state)
    const them = new (Wire as any)('tcpOutgoing', 0)
    const us = new (Wire as any)('tcpIncoming', 0)
    us.remoteAddress = '10.2.2.2' // an incoming connection: its source port is not where it listens
    // As webtorrent's Peer does: when one end of the pipe closes first, streamx destroys the other with a
    // premature-close error, which a bittorrent-protocol honouring destroy(err) (upstream/ 0001) emits.
    them.on('error', () => {})
    us.on('error', () => {})
    them.pipe(us).pipe(them)
    them.extendedHandshake.e = 1
    them.extendedHandshake.p = 51413
    torrent.emit('wire', us, '10.2.2.2:40000')
    const infoHash = randomBytes(20).toString('hex')
    const seen = new Promise(resolve => us.once('extended', resolve))
    us.once('handshake', () => us.handshake(infoHash, randomBytes(20).toString('hex'), { dht: false }))
    them.handshake(infoHash, randomBytes(20).toString('hex'), { dht: false })
    await within(seen, 5000, "the peer's extended handshake")
    expect(state.memory.get('10.2.2.2:51413').evidence).to.equal('extended-handshake')
    expect(state.memory.get('10.2.2.2:40000')).to.deep.equal({})
    them.destroy()
    us.destroy()
  })

  it('a hint never downgrades what a connection taught, and one reset never erases a hint', () => {
    const memory = new PeerMemory()
    memory.recordMse('10.3.3.3:1', 'works')
    memory.recordEvidence('10.3.3.3:1', 'tracker')
    memory.recordMse('10.3.3.3:1', 'rejected')
    expect(memory.get('10.3.3.3:1')).to.deep.equal({ mse: 'works', evidence: 'tracker' })
    memory.recordEvidence('10.3.3.4:1', 'pex')
    memory.recordMse('10.3.3.4:1', 'rejected')
    memory.recordEvidence('10.3.3.4:1', 'tracker')
    expect(memory.get('10.3.3.4:1')).to.deep.equal({ evidence: 'pex', mse: 'rejected' })
  })
})

describe('evidence-based fallback: an on-path relay resets our first MSE attempt (preferred)', function () {
  this.timeout(60_000)
  const fx = new Fixtures()
  afterEach(async () => await fx.cleanup())

  for (const evidence of [true, false]) {
    const title = evidence
      ? 'the tracker said the peer supports crypto: not one plaintext byte, MSE again, download over RC4'
      : 'no evidence: exactly one plaintext redial, as before, download in plaintext'
    it(title, async () => {
      const seeder = await fx.ours('preferred')
      const data = seededBytes(128 * 1024, evidence ? 71 : 72)
      const seeded = await seed(seeder, data)
      const relay = await startRelay(portOf(seeder), { resetFirst: 1 })
      fx.onCleanup(async () => await relay.close())
      // The tracker hands out the relay's address, with crypto_flags 1 (supportcrypto) or 0.
      const tracker = await fakeTracker(Buffer.from(bencode.encode({
        interval: 1800,
        peers: compact(LOOPBACK, relay.port),
        crypto_flags: Buffer.from([evidence ? 1 : 0])
      })))
      fx.onCleanup(async () => await tracker.close())

      const downloader = await fx.ours('preferred', { tracker: {} })
      const torrent = download(downloader, seeded.torrentFile, [], { announce: [tracker.url] })
      await done(torrent, 30_000)
      expect(await contentHash(torrent)).to.equal(sha256(data))

      const stats = downloader.mseStats
      const memory = mseStateOf(downloader as unknown as UpstreamClient)!.memory.get(relay.address)
      expect(relay.connections.length, 'connections through the relay').to.be.at.least(2)
      // The first connection was our MSE attempt (no plaintext header), reset by the relay.
      expect(relay.upBytes(0).subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(false)
      if (evidence) {
        expect(memory.evidence).to.equal('tracker')
        expect(relay.sawPlaintextHeader(), 'a plaintext BitTorrent handshake crossed the relay').to.equal(false)
        expect(stats.attempts.plaintext).to.equal(0)
        expect(stats.fallbacks.toPlaintext).to.equal(0)
        expect(stats.connected.rc4).to.be.at.least(1)
      } else {
        // Learned only over the plaintext connection: our seeder sends e = 1 in its extended handshake,
        // so the next dial to it would not be downgraded again.
        expect(memory.evidence).to.equal('extended-handshake')
        expect(relay.upBytes(1).subarray(0, 20).equals(PLAINTEXT_HEADER), 'the redial is plaintext').to.equal(true)
        expect(stats.attempts.plaintext).to.equal(1)
        expect(stats.fallbacks.toPlaintext).to.equal(1)
        expect(stats.connected.plaintext).to.equal(1)
      }
    })
  }
})
