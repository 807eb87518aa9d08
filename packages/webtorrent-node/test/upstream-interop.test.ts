/**
 * webtorrent-node against unmodified upstream webtorrent 3 (with bittorrent-protocol 5's own PE) at every
 * `secure` level, both directions, in one process.
 *
 * What upstream does (bittorrent-protocol 5.0.9 mse.js, webtorrent 3.0.21 lib/peer.js + lib/conn-pool.js),
 * and what the cases below observe:
 * - secure 0: no PE at all. Outgoing: a plaintext handshake. Incoming: the Wire reads one byte and ends the
 *   connection unless it is 19, so an MSE key gets a FIN without a single byte back.
 * - secure 1 and 2, outgoing: always MSE first (provide 0x03 at level 1, 0x02 at level 2), IA is always
 *   empty (the BitTorrent handshake costs an extra round trip), and there is no plaintext retry: upstream's
 *   reconnects dial MSE again, forever.
 * - secure 1 and 2, incoming: a plaintext BitTorrent handshake is accepted at BOTH levels. `secure: 2`
 *   ("RC4 only") does not refuse plaintext peers.
 * - as a responder, level 1 selects PLAINTEXT whenever the initiator offers it (it prefers 0x01), so a
 *   `preferred` initiator that offers 0x03 gets plaintext-after-mse, not RC4. Level 2 selects RC4.
 * - as an initiator, upstream accepts any crypto_select of 1 or 2, without checking it is one it provided:
 *   `secure: 2` is downgraded to plaintext by one flipped byte on the path (demonstrated at the end).
 * - RC4 uses Node's cipher only under --openssl-legacy-provider; otherwise a JS loop (Wire.nativeRC4).
 * - 96 zero bytes sent to a secure 1/2 listener crash the process (see hostile-input.test.ts).
 */
import net from 'node:net'
import { expect } from 'chai'
import Wire from 'bittorrent-protocol'
import type { EncryptionPolicy } from '../src/index.js'
import { Fixtures, addressOf, contentHash, done, download, failuresReported, nextFailure, portOf, seed, wiresOf } from './helpers.js'
import { LOOPBACK, PLAINTEXT_HEADER, awaitedLater, seededBytes, sha256, until, within } from 'test-support'

type Method = 'rc4' | 'plaintext-after-mse' | 'plaintext'
type Outcome = { method: Method, fallback?: boolean } | { refused: string }

const SIZE = 512 * 1024 + 99
/** Bound on the report of a refused connection (it comes within a second; a loaded machine is slow). */
const REFUSAL_BOUND_MS = 10_000

/** bittorrent-protocol's `_encryptionMethod` for each of our methods (2 RC4, 1 plaintext after MSE, none). */
const UPSTREAM_METHOD: Record<Method, number | null | undefined> = { rc4: 2, 'plaintext-after-mse': 1, plaintext: undefined }

function upstreamMethodOf (wire: any): number | undefined {
  return wire._encryptionMethod ?? undefined
}

/** Our responder's MSE stream for the torrent's (first) connected peer: how the handshake went on our side. */
function ourStreams (torrent: any): any[] {
  return [...torrent._peers.values()].map((peer: any) => peer.conn).filter((conn: any) => conn?.outcome)
}

describe('interop with upstream webtorrent 3', function () {
  this.timeout(20_000)
  const fx = new Fixtures()
  afterEach(() => fx.cleanup())

  it('documents the RC4 upstream uses here: a JS loop unless Node runs with --openssl-legacy-provider', () => {
    const legacy = process.execArgv.join(' ').includes('openssl-legacy-provider') || (process.env.NODE_OPTIONS ?? '').includes('openssl-legacy-provider')
    expect((Wire as any).nativeRC4).to.equal(legacy)
  })

  it('documents that upstream warns about its JS RC4 at secure 2 (and only there)', async () => {
    await fx.upstream(1)
    expect(fx.warnings).to.deep.equal([])
    await fx.upstream(2)
    if (!(Wire as any).nativeRC4) expect(fx.warnings.join('\n')).to.match(/Native RC4 implementation is not available/)
  })

  describe('upstream seeds, webtorrent-node downloads (we dial: MSE initiator)', () => {
    const cases: Array<[secure: 0 | 1 | 2, policy: EncryptionPolicy, outcome: Outcome, note: string]> = [
      [0, 'required', { refused: 'peer-closed' }, 'upstream hangs up on our key; required never sends plaintext'],
      [0, 'preferred', { method: 'plaintext', fallback: true }, 'one MSE attempt, then the plaintext retry'],
      [0, 'tolerated', { method: 'plaintext' }, 'plaintext first'],
      [1, 'required', { method: 'rc4' }, 'we offer RC4 only; upstream takes our IA handshake'],
      [1, 'preferred', { method: 'plaintext-after-mse' }, 'upstream level 1 prefers plaintext when offered both'],
      [1, 'tolerated', { method: 'plaintext' }, 'upstream accepts a plaintext handshake'],
      [2, 'required', { method: 'rc4' }, 'RC4'],
      [2, 'preferred', { method: 'rc4' }, 'level 2 selects RC4'],
      [2, 'tolerated', { method: 'plaintext' }, 'upstream secure 2 still accepts a plaintext handshake']
    ]
    for (const [secure, policy, outcome, note] of cases) {
      const what = 'refused' in outcome ? `refused (${outcome.refused})` : outcome.method
      it(`upstream secure ${secure}, we ${policy}: ${what} - ${note}`, async () => {
        const seeder = await fx.upstream(secure)
        const data = seededBytes(SIZE, 300 + secure * 10 + policy.length)
        const seeding = await seed(seeder, data)
        const downloader = await fx.ours(policy)
        const refused = awaitedLater(nextFailure(downloader, 'initiator'))
        const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
        const stats = (): any => downloader.mseStats

        if ('refused' in outcome) {
          // Our report of the refused dial comes with the retry decision, taken in the same turn.
          await within(refused, REFUSAL_BOUND_MS, 'our report of the refused connection')
          expect(torrent.done).to.equal(false)
          expect(wiresOf(torrent)).to.have.length(0)
          expect(stats().errors[outcome.refused]).to.be.at.least(1)
          expect(stats().attempts.plaintext).to.equal(0)
          expect(stats().connected).to.deep.equal({ rc4: 0, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
          return
        }
        await done(torrent)
        expect(await contentHash(torrent)).to.equal(sha256(data))
        const [ours] = wiresOf(torrent)
        expect(ours.mse).to.include({ role: 'initiator', method: outcome.method, fallback: outcome.fallback === true })
        expect(stats().connected[outcome.method]).to.equal(1)
        if (outcome.fallback) expect(stats().fallbacks.toPlaintext).to.equal(1)
        await until(() => wiresOf(seeding).length > 0, 2000, 'upstream\'s wire')
        const [theirs] = wiresOf(seeding)
        expect(theirs._peEnabled).to.equal(secure)
        expect(upstreamMethodOf(theirs)).to.equal(UPSTREAM_METHOD[outcome.method] ?? undefined)
      })
    }
  })

  describe('webtorrent-node seeds, upstream downloads (upstream dials: we are the MSE responder)', () => {
    const cases: Array<[secure: 0 | 1 | 2, policy: EncryptionPolicy, outcome: Outcome, note: string]> = [
      [0, 'required', { refused: 'plaintext-refused' }, 'upstream secure 0 only dials plaintext'],
      [0, 'preferred', { method: 'plaintext' }, 'plaintext accepted'],
      [0, 'tolerated', { method: 'plaintext' }, 'plaintext accepted'],
      [1, 'required', { method: 'rc4' }, 'upstream offers 0x03, we select RC4'],
      [1, 'preferred', { method: 'rc4' }, 'we select RC4'],
      [1, 'tolerated', { method: 'plaintext-after-mse' }, 'tolerated selects plaintext when offered'],
      [1, 'disabled', { refused: 'encryption-refused' }, 'upstream never retries in plaintext: no connection, ever'],
      [2, 'required', { method: 'rc4' }, 'RC4'],
      [2, 'preferred', { method: 'rc4' }, 'RC4'],
      [2, 'tolerated', { method: 'rc4' }, 'only RC4 offered'],
      [2, 'disabled', { refused: 'encryption-refused' }, 'no connection']
    ]
    for (const [secure, policy, outcome, note] of cases) {
      const what = 'refused' in outcome ? `refused (${outcome.refused})` : outcome.method
      it(`we ${policy}, upstream secure ${secure}: ${what} - ${note}`, async () => {
        const seeder = await fx.ours(policy)
        const data = seededBytes(SIZE, 500 + secure * 10 + policy.length)
        const seeding = await seed(seeder, data)
        const refused = awaitedLater(nextFailure(seeder, 'responder'))
        const refusedTwice = awaitedLater(failuresReported(seeder, 'responder', 2))
        const downloader = await fx.upstream(secure)
        const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
        const stats = (): any => seeder.mseStats

        if ('refused' in outcome) {
          await within(refused, REFUSAL_BOUND_MS, 'our report of the refused connection')
          // Upstream's next dial comes 1 s after a failed one (webtorrent's RECONNECT_WAIT). A second refusal
          // shows that dial was MSE again; a plaintext retry would instead complete the download, which
          // also ends this wait and fails the check below.
          const completed = new Promise<void>(resolve => torrent.once('done', () => resolve()))
          await within(Promise.race([refusedTwice, completed]), REFUSAL_BOUND_MS, 'upstream\'s next dial')
          expect(torrent.done).to.equal(false)
          expect(wiresOf(seeding)).to.have.length(0)
          expect(stats().errors[outcome.refused]).to.be.at.least(1)
          expect(stats().connected).to.deep.equal({ rc4: 0, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
          return
        }
        await done(torrent)
        expect(await contentHash(torrent)).to.equal(sha256(data))
        await until(() => wiresOf(seeding).length > 0, 2000, 'our wire')
        const [ours] = wiresOf(seeding)
        expect(ours.mse).to.include({ role: 'responder', method: outcome.method, fallback: false })
        expect(stats().connected[outcome.method]).to.equal(1)
        expect(stats().errors).to.deep.equal({})
        const [theirs] = wiresOf(torrent)
        expect(theirs._peEnabled).to.equal(secure)
        expect(upstreamMethodOf(theirs)).to.equal(UPSTREAM_METHOD[outcome.method] ?? undefined)
        if (outcome.method !== 'plaintext') {
          // Upstream sends no IA: its BitTorrent handshake follows only after our flight 4.
          const [stream] = ourStreams(seeding)
          expect(stream.outcome.initialPayloadLength).to.equal(0)
        }
      })
    }
  })

  describe('downgrade by one flipped byte on the path (MSE has no integrity protection)', () => {
    it('upstream secure 2 accepts a plaintext select it never offered: the payload travels in clear', async () => {
      const seeder = await fx.ours('preferred')
      const data = seededBytes(SIZE, 777)
      const seeding = await seed(seeder, data)
      const relay = new ProvideFlippingRelay(portOf(seeder), 0x02 ^ 0x01)
      await relay.start()
      fx.onCleanup(() => relay.close())
      const downloader = await fx.upstream(2)
      const torrent = download(downloader, seeding.torrentFile, [relay.address])
      await done(torrent)
      expect(await contentHash(torrent)).to.equal(sha256(data))
      const [theirs] = wiresOf(torrent)
      expect(downloader.secure).to.equal(2)
      expect(upstreamMethodOf(theirs), 'upstream "RC4 only" ended up with plaintext').to.equal(1)
      await until(() => wiresOf(seeding).length > 0, 2000, 'our wire')
      expect(wiresOf(seeding)[0].mse.method).to.equal('plaintext-after-mse')
      expect(relay.flipped).to.equal(1)
      expect(relay.sawPlaintextHeader(), 'the BitTorrent handshake crossed in clear').to.equal(true)
    })

    it('our required initiator refuses the same downgrade (method-not-offered) and sends no plaintext', async () => {
      const seeder = await fx.upstream(1)
      const data = seededBytes(SIZE, 778)
      const seeding = await seed(seeder, data)
      const relay = new ProvideFlippingRelay(portOf(seeder), 0x02 ^ 0x01)
      await relay.start()
      fx.onCleanup(() => relay.close())
      const downloader = await fx.ours('required')
      const torrent = download(downloader, seeding.torrentFile, [relay.address])
      await until(() => (downloader.mseStats.errors['method-not-offered'] ?? 0) >= 1, 5000, 'method-not-offered')
      expect(torrent.done).to.equal(false)
      expect(wiresOf(torrent)).to.have.length(0)
      expect(relay.flipped).to.be.at.least(1)
      // Upstream (level 1, plaintext selected) answers with its handshake in clear; we never do.
      expect(relay.upBytes().includes(PLAINTEXT_HEADER)).to.equal(false)
    })
  })
})

/**
 * An on-path attacker without any key: it flips crypto_provide in flight 3 (a known plaintext at a known
 * offset; RC4 is malleable). Flight 3 is what the initiator sends after it received the responder's key, so
 * the relay holds the responder's bytes until the initiator has been quiet for a moment: everything the
 * initiator sent before that is Ya + PadA, and the first byte after it starts flight 3. crypto_provide's low
 * byte is at offset 20 (req1) + 20 (req2^req3) + 8 (VC) + 3 = 51.
 */
class ProvideFlippingRelay {
  flipped = 0
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  private readonly up: Buffer[] = []
  private readonly down: Buffer[] = []
  port = 0

  constructor (private readonly targetPort: number, private readonly mask: number) {}

  get address (): string {
    return `${LOOPBACK}:${this.port}`
  }

  upBytes (): Buffer {
    return Buffer.concat(this.up)
  }

  sawPlaintextHeader (): boolean {
    return this.upBytes().includes(PLAINTEXT_HEADER) || Buffer.concat(this.down).includes(PLAINTEXT_HEADER)
  }

  async start (): Promise<void> {
    this.server = net.createServer(incoming => {
      const outgoing = net.connect(this.targetPort, LOOPBACK)
      for (const socket of [incoming, outgoing]) {
        this.sockets.add(socket)
        socket.on('error', () => {})
        socket.on('close', () => { incoming.destroy(); outgoing.destroy() })
      }
      let upCount = 0
      let lastUp = Date.now()
      let released = false
      let flightThreeAt = -1
      const held: Buffer[] = []
      const release = setInterval(() => {
        if (released || upCount < 96 || Date.now() - lastUp < 60) return
        released = true
        clearInterval(release)
        for (const chunk of held) incoming.write(chunk)
      }, 10)
      incoming.on('close', () => clearInterval(release))
      incoming.on('data', (chunk: Buffer) => {
        chunk = Buffer.from(chunk)
        if (released && flightThreeAt < 0) flightThreeAt = upCount
        const target = flightThreeAt + 51
        if (flightThreeAt >= 0 && target >= upCount && target < upCount + chunk.length) {
          chunk[target - upCount] ^= this.mask
          this.flipped += 1
        }
        upCount += chunk.length
        lastUp = Date.now()
        this.up.push(chunk)
        outgoing.write(chunk)
      })
      outgoing.on('data', (chunk: Buffer) => {
        this.down.push(Buffer.from(chunk))
        if (released) incoming.write(chunk)
        else held.push(Buffer.from(chunk))
      })
      incoming.on('end', () => outgoing.end())
      outgoing.on('end', () => incoming.end())
    })
    await new Promise<void>(resolve => this.server!.listen(0, LOOPBACK, resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }

  async close (): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>(resolve => this.server ? this.server.close(() => resolve()) : resolve())
  }
}
