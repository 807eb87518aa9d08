/**
 * The unpadded-secret retry, deterministically. libtorrent <= 2.0.12 and rakshasa's libtorrent hash
 * HASH('req3', S) over S without its leading zero bytes and drop the handshake when S begins with one. Here
 * the peer is our own MSE responder with that bug put back through its crypto-provider seam, in front of a
 * plaintext seeder: it picks its private key so that S has (or has not) a leading zero byte, and records
 * every byte the dialling client sends it.
 */
import { expect } from 'chai'
import net from 'node:net'
import {
  ResponderHandshake, SkeyRegistry, nodeCryptoProvider, KEY_LENGTH, PRIVATE_KEY_LENGTH,
  type CryptoProvider, type HandshakeStep
} from 'mse-core'
import { Fixtures, contentHash, done, download, portOf, seed, wiresOf } from './helpers.js'
import { LOOPBACK, PLAINTEXT_HEADER, seededBytes, sha256, until, withUnpaddedReq3 } from 'test-support'

const SIZE = 256 * 1024 + 5

/** node:crypto, except that HASH('req3', S) is taken over S with its leading zero bytes stripped (the bug). */
const unpaddedReq3Provider: CryptoProvider = withUnpaddedReq3(nodeCryptoProvider)

/** A private key for which S = peerKey^x mod P does (or does not) begin with a zero byte. */
function privateKeyFor (peerKey: Uint8Array, leadingZero: boolean): Uint8Array {
  // A leading zero comes up once in 256 keys: 10,000 tries fail with probability about e^-39.
  for (let i = 0; i < 10_000; i++) {
    const x = nodeCryptoProvider.randomBytes(PRIVATE_KEY_LENGTH)
    if ((nodeCryptoProvider.dhSharedSecret(x, peerKey)[0] === 0) === leadingZero) return x
  }
  throw new Error('no private key found')
}

interface BuggyConnection {
  /** Every byte the dialling client sent. */
  fromClient: Buffer[]
  leadingZero: boolean
  /** How the responder's handshake ended. */
  result?: 'done' | 'failed'
  errorCode?: string
}

/**
 * A peer with the unpadded-req3 bug: an MSE responder (policy required) that, once its handshake completes,
 * relays the decrypted BitTorrent stream to `seederPort` in plaintext over loopback. `leadingZeroOn(n)` says
 * whether connection n (0-based) gets an S with a leading zero byte. A failed handshake is answered by a
 * close, as libtorrent does.
 */
async function buggyPeer (fx: Fixtures, infoHash: string, seederPort: number, leadingZeroOn: (n: number) => boolean): Promise<{ address: string, connections: BuggyConnection[] }> {
  const skeys = new SkeyRegistry()
  skeys.add(infoHash)
  const connections: BuggyConnection[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    const record: BuggyConnection = { fromClient: [], leadingZero: leadingZeroOn(connections.length) }
    connections.push(record)
    let session: ResponderHandshake | undefined
    let received = Buffer.alloc(0)
    const onStep = (step: HandshakeStep): void => {
      if (step.send.length > 0) socket.write(step.send)
      if (step.status === 'failed') {
        record.result = 'failed'
        record.errorCode = step.error.code
        socket.destroy()
      } else if (step.status === 'done') {
        record.result = 'done'
        socket.removeListener('data', onData)
        const { encryptor, decryptor, payload } = step.result
        const upstream = net.connect(seederPort, LOOPBACK)
        sockets.add(upstream)
        upstream.on('close', () => { sockets.delete(upstream); socket.destroy() })
        upstream.on('error', () => {})
        socket.on('close', () => upstream.destroy())
        upstream.write(payload)
        socket.on('data', (chunk: Buffer) => { record.fromClient.push(Buffer.from(chunk)); upstream.write(decryptor!.process(chunk)) })
        upstream.on('data', (chunk: Buffer) => socket.write(encryptor!.process(chunk)))
      }
    }
    const onData = (chunk: Buffer): void => {
      record.fromClient.push(Buffer.from(chunk))
      if (session) return onStep(session.receive(chunk, Date.now()))
      received = Buffer.concat([received, chunk])
      if (received.length < KEY_LENGTH) return
      // The client's key is known: choose ours so that S does (or does not) begin with a zero byte.
      const ours = privateKeyFor(received.subarray(0, KEY_LENGTH), record.leadingZero)
      let keyGiven = false
      session = new ResponderHandshake({
        policy: 'required',
        skeys,
        // Plays libtorrent: the plain spec, without this project's PadC/PadD extension.
        extension: false,
        provider: unpaddedReq3Provider,
        // The first 20-byte draw is the private key (generatePrivateKey); pads stay random.
        random: n => {
          if (n === PRIVATE_KEY_LENGTH && !keyGiven) { keyGiven = true; return ours }
          return nodeCryptoProvider.randomBytes(n)
        }
      })
      session.start(Date.now())
      onStep(session.receive(received, Date.now()))
    }
    socket.on('data', onData)
  })
  await new Promise<void>(resolve => server.listen(0, LOOPBACK, resolve))
  fx.onCleanup(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return { address: `${LOOPBACK}:${(server.address() as net.AddressInfo).port}`, connections }
}

const sent = (c: BuggyConnection): Buffer => Buffer.concat(c.fromClient)

describe('a peer that hashes an unpadded shared secret (libtorrent <= 2.0.12)', function () {
  this.timeout(30_000)
  const fx = new Fixtures()
  afterEach(() => fx.cleanup())

  for (const policy of ['required', 'preferred'] as const) {
    it(`${policy}: S with a leading zero is dropped after flight 3; one MSE retry with fresh keys completes, never plaintext`, async () => {
      const data = seededBytes(SIZE, 41)
      const seeder = await fx.ours('preferred')
      const seeding = await seed(seeder, data)
      const peer = await buggyPeer(fx, seeding.infoHash, portOf(seeder), n => n === 0)

      const downloader = await fx.ours(policy)
      const torrent = download(downloader, seeding.torrentFile, [peer.address])
      await done(torrent)
      expect(await contentHash(torrent)).to.equal(sha256(data))

      // The bug happened: connection 0 had a leading-zero S and the buggy responder could not find the torrent.
      const [first, second] = peer.connections
      expect(first, 'the first connection').to.include({ leadingZero: true, result: 'failed', errorCode: 'unknown-skey' })
      expect(second, 'the retry').to.include({ leadingZero: false, result: 'done' })
      expect(peer.connections).to.have.length(2)

      const [wire] = wiresOf(torrent)
      expect(wire.mse).to.include({ role: 'initiator', attempt: 'mse', method: 'rc4', fallback: false, secretRetry: true })
      const stats = downloader.mseStats
      expect(stats.unpaddedSecret).to.deep.equal({ suspected: 1, retried: 1 })
      expect(stats.attempts).to.deep.equal({ mse: 2, plaintext: 0 })
      expect(stats.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
      expect(stats.errors).to.deep.equal({ 'peer-closed': 1 })
      expect(stats.connected).to.deep.equal({ rc4: 1, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
      // Not one plaintext BitTorrent byte from us on either connection (the handshake went as encrypted IA).
      for (const c of peer.connections) expect(sent(c).includes(PLAINTEXT_HEADER.subarray(1))).to.equal(false)
      expect(sent(first!).length, 'flight 1 and flight 3 of the dropped handshake').to.be.above(96 + 20 + 20)
    })
  }

  it('retries once only: a second leading-zero S in a row is a refusal, with no plaintext fallback', async () => {
    const data = seededBytes(SIZE, 42)
    const seeder = await fx.ours('preferred')
    const seeding = await seed(seeder, data)
    const peer = await buggyPeer(fx, seeding.infoHash, portOf(seeder), n => n < 2)

    const downloader = await fx.ours('preferred')
    const torrent = download(downloader, seeding.torrentFile, [peer.address])
    await until(() => downloader.mseStats.unpaddedSecret.suspected === 2, 10_000, 'the second rejection')
    let stats = downloader.mseStats
    expect(stats.unpaddedSecret).to.deep.equal({ suspected: 2, retried: 1 })
    expect(stats.attempts.plaintext).to.equal(0)
    expect(stats.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
    expect(peer.connections.slice(0, 2).map(c => c.errorCode)).to.deep.equal(['unknown-skey', 'unknown-skey'])

    // webtorrent's own reconnect (after its back-off) dials MSE again, and S is fine this time.
    await done(torrent)
    expect(await contentHash(torrent)).to.equal(sha256(data))
    stats = downloader.mseStats
    expect(stats.attempts.plaintext).to.equal(0)
    expect(stats.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
    expect(stats.unpaddedSecret).to.deep.equal({ suspected: 2, retried: 1 })
    for (const c of peer.connections) expect(sent(c).includes(PLAINTEXT_HEADER.subarray(1))).to.equal(false)
  })

  it('with mseUnpaddedSecretRetry off, the rejection is counted and not retried', async () => {
    const data = seededBytes(SIZE, 43)
    const seeder = await fx.ours('preferred')
    const seeding = await seed(seeder, data)
    const peer = await buggyPeer(fx, seeding.infoHash, portOf(seeder), n => n === 0)

    const downloader = await fx.ours('preferred', { mseUnpaddedSecretRetry: false })
    download(downloader, seeding.torrentFile, [peer.address])
    await until(() => downloader.mseStats.unpaddedSecret.suspected === 1, 10_000, 'the rejection')
    const stats = downloader.mseStats
    // Counted in the same microtask as `suspected`: had a retry been made, `retried` would say so now.
    expect(stats.unpaddedSecret).to.deep.equal({ suspected: 1, retried: 0 })
    expect(stats.attempts.plaintext).to.equal(0)
    expect(stats.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
    expect(peer.connections[0]).to.include({ leadingZero: true, result: 'failed', errorCode: 'unknown-skey' })
  })

  it('a close after flight 3 with an S that has no leading zero is not taken for the bug', async () => {
    const data = seededBytes(SIZE, 44)
    const seeder = await fx.ours('preferred')
    const seeding = await seed(seeder, data)
    // A peer that serves another torrent: it closes after our flight 3 whatever S is.
    const peer = await buggyPeer(fx, seededBytes(20, 45).toString('hex'), portOf(seeder), () => false)

    const downloader = await fx.ours('required')
    download(downloader, seeding.torrentFile, [peer.address])
    await until(() => (downloader.mseStats.errors['peer-closed'] ?? 0) >= 1, 10_000, 'the close')
    const stats = downloader.mseStats
    expect(peer.connections[0]).to.include({ leadingZero: false, result: 'failed', errorCode: 'unknown-skey' })
    expect(stats.unpaddedSecret).to.deep.equal({ suspected: 0, retried: 0 })
  })
})
