/**
 * Hostile bytes on our listening port (and from a peer we dial): every such connection ends with a typed
 * mse-core error counted in `client.mseStats.errors`, the client keeps seeding and downloading, and nothing
 * escapes as an uncaught exception.
 *
 * Contrast (shown at the end, in child processes only): upstream webtorrent 3.0.21 with `secure` 1 or 2 dies
 * on 96 zero bytes sent to its listening port. bittorrent-protocol's responder hands the peer key to
 * `DiffieHellman.computeSecret` without checking it, Node throws ERR_CRYPTO_INVALID_KEYLEN ("Supplied key is
 * too small") inside a stream callback, and nothing catches it: one unauthenticated TCP connection kills the
 * process.
 */
import net from 'node:net'
import { spawn } from 'node:child_process'
import { createDiffieHellman, createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import { DH_PRIME_HEX } from 'mse-core'
import { Fixtures, addressOf, contentHash, done, download, portOf, seed } from './helpers.js'
import { LOOPBACK, CrashGuard, seededBytes, sha256, until, within } from 'test-support'

const P = BigInt('0x' + DH_PRIME_HEX)
const STAGE_TIMEOUT_MS = 1500

function key96 (value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(192, '0'), 'hex')
}

function sha1 (...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha1')
  for (const part of parts) hash.update(part)
  return hash.digest()
}

function xor (a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.from(a.map((byte, i) => byte ^ b[i]!))
}

/** A raw TCP client that records what it receives and when the connection closes. */
class Attacker {
  readonly socket: net.Socket
  received = Buffer.alloc(0)
  readonly closed: Promise<void>
  readonly connected: Promise<void>

  constructor (port: number) {
    this.socket = net.connect(port, LOOPBACK)
    this.socket.on('error', () => {})
    this.socket.on('data', chunk => { this.received = Buffer.concat([this.received, chunk]) })
    this.closed = new Promise(resolve => this.socket.once('close', () => resolve()))
    this.connected = within(new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve())
      this.socket.once('error', reject)
    }), 5000, 'the TCP connection')
  }

  async waitFor (bytes: number): Promise<void> {
    await until(() => this.received.length >= bytes, 5000, `${bytes} bytes from the client`)
  }

  /** Resolves when the client under test closed the connection (bounded). */
  async closedByPeer (ms = 5000): Promise<void> {
    await within(this.closed, ms, 'the client to close the connection')
  }
}

/** Our MSE side as an attacker would implement it: a fresh DH key pair with the MSE prime. */
function attackerKeys (): { publicKey: Buffer, secretWith: (peerKey: Buffer) => Buffer } {
  const dh = createDiffieHellman(DH_PRIME_HEX, 'hex', 2)
  const raw = dh.generateKeys()
  const publicKey = Buffer.concat([Buffer.alloc(96 - raw.length), raw])
  return {
    publicKey,
    secretWith: peerKey => {
      const s = dh.computeSecret(peerKey.subarray(0, 96))
      return Buffer.concat([Buffer.alloc(96 - s.length), s])
    }
  }
}

function errorTotal (stats: any): number {
  return Object.values(stats.errors as Record<string, number>).reduce((a, b) => a + b, 0)
}

describe('hostile input', function () {
  this.timeout(30_000)
  const fx = new Fixtures()
  const guard = new CrashGuard()
  let seeder: any
  let seeding: any
  let concurrentData: Buffer
  let concurrent: any

  before(async () => {
    guard.install()
    // Every attack below comes from 127.0.0.1, one after the other: lift the per-address rate, which is
    // tested in handshake-budget.test.ts, so each attack reaches the handshake it is aimed at.
    seeder = await fx.ours('preferred', { mseStageTimeoutMs: STAGE_TIMEOUT_MS, mseHandshakeBudget: { burstPerAddress: 1000 } })
    concurrentData = seededBytes(2 * 1024 * 1024, 4242)
    seeding = await seed(seeder, concurrentData)
    // A real download that runs while the attacks below hit the same listening port: throttled so it is
    // still going on while they run.
    const downloader = await fx.ours('required', { downloadLimit: 1024 * 1024 })
    concurrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
  })

  after(async () => {
    guard.uninstall()
    await fx.cleanup()
    expect(guard.errors, 'uncaught exceptions / unhandled rejections').to.deep.equal([])
  })

  /** Runs one hostile connection and returns the error codes it added to the seeder's stats. */
  async function attack (run: (attacker: Attacker) => Promise<void>): Promise<Record<string, number>> {
    const before = seeder.mseStats.errors as Record<string, number>
    const attacker = new Attacker(portOf(seeder))
    await attacker.connected
    await run(attacker)
    await attacker.closedByPeer()
    // The error is recorded in the handshake's settlement, a microtask after the close at the latest.
    await until(() => errorTotal(seeder.mseStats) > Object.values(before).reduce((a, b) => a + b, 0), 2000, 'the error to be counted')
    const after = seeder.mseStats.errors as Record<string, number>
    const delta: Record<string, number> = {}
    for (const [code, n] of Object.entries(after)) if (n !== (before[code] ?? 0)) delta[code] = n - (before[code] ?? 0)
    return delta
  }

  describe('degenerate DH keys (rejected before any exponentiation)', () => {
    const keys: Array<[string, Buffer]> = [
      ['96 zero bytes', Buffer.alloc(96)],
      ['Y = 1', key96(1n)],
      ['Y = P - 1', key96(P - 1n)],
      ['Y = P', key96(P)],
      ['Y = 2^768 - 1 (96 bytes of 0xff)', Buffer.alloc(96, 0xff)]
    ]
    for (const [name, key] of keys) {
      it(`${name}: closed with degenerate-key`, async () => {
        const delta = await attack(async attacker => { attacker.socket.write(key) })
        expect(delta).to.deep.equal({ 'degenerate-key': 1 })
      })
    }
  })

  describe('garbage of several sizes (seeded), then the attacker half-closes', () => {
    const sizes = [1, 19, 20, 60, 95, 96, 200, 607, 608, 700, 2000, 65536]
    for (const [i, size] of sizes.entries()) {
      // Up to 608 bytes (a key and the longest pad) the handshake waits for more: the FIN ends it.
      // Beyond, the bytes break a bound: 608 before our reply, or the 628-byte window for HASH('req1', S).
      const allowed = size <= 608 ? ['peer-closed'] : ['too-many-bytes', 'sync-not-found']
      it(`${size} random bytes: ${allowed.join(' or ')}`, async () => {
        const garbage = seededBytes(size, 9000 + i)
        if (garbage[0] === 19) garbage[0] = 20 // not the start of a plaintext handshake
        const delta = await attack(async attacker => { attacker.socket.end(garbage) })
        expect(Object.values(delta).reduce((a, b) => a + b, 0)).to.equal(1)
        expect(allowed).to.include(Object.keys(delta)[0])
      })
    }
  })

  describe('silence', () => {
    it('a connection that never sends a byte: deadline-exceeded', async () => {
      const delta = await attack(async () => {})
      expect(delta).to.deep.equal({ 'deadline-exceeded': 1 })
    })
  })

  describe('a valid-looking MSE key, then', () => {
    it('silence: deadline-exceeded', async () => {
      const { publicKey } = attackerKeys()
      const delta = await attack(async attacker => {
        attacker.socket.write(publicKey)
        await attacker.waitFor(96)
      })
      expect(delta).to.deep.equal({ 'deadline-exceeded': 1 })
    })

    it('700 bytes of garbage: sync-not-found (no HASH(\'req1\', S) within 628 bytes)', async () => {
      const { publicKey } = attackerKeys()
      const delta = await attack(async attacker => {
        attacker.socket.write(publicKey)
        await attacker.waitFor(96)
        attacker.socket.write(seededBytes(700, 31))
      })
      expect(delta).to.deep.equal({ 'sync-not-found': 1 })
    })

    it('the right HASH(\'req1\', S) and a SKEY we do not serve: unknown-skey', async () => {
      const { publicKey, secretWith } = attackerKeys()
      const delta = await attack(async attacker => {
        attacker.socket.write(publicKey)
        await attacker.waitFor(96)
        const s = secretWith(attacker.received)
        const notServed = seededBytes(20, 32)
        attacker.socket.write(Buffer.concat([
          sha1(Buffer.from('req1'), s),
          xor(sha1(Buffer.from('req2'), notServed), sha1(Buffer.from('req3'), s)),
          seededBytes(16, 33)
        ]))
      })
      expect(delta).to.deep.equal({ 'unknown-skey': 1 })
    })

    it('the right hashes for a torrent we serve, then a garbled crypto header: bad-vc', async () => {
      const { publicKey, secretWith } = attackerKeys()
      const delta = await attack(async attacker => {
        attacker.socket.write(publicKey)
        await attacker.waitFor(96)
        const s = secretWith(attacker.received)
        attacker.socket.write(Buffer.concat([
          sha1(Buffer.from('req1'), s),
          xor(sha1(Buffer.from('req2'), Buffer.from(seeding.infoHash, 'hex')), sha1(Buffer.from('req3'), s)),
          seededBytes(16, 34) // should be ENCRYPT(VC, crypto_provide, len(PadC)): decrypts to garbage
        ]))
      })
      expect(delta).to.deep.equal({ 'bad-vc': 1 })
    })
  })

  describe('hostile bytes from a peer we dial (our side is the MSE initiator)', () => {
    async function fakePeer (answer: (socket: net.Socket, received: () => number) => void): Promise<{ port: number, close: () => Promise<void> }> {
      const sockets = new Set<net.Socket>()
      const server = net.createServer(socket => {
        sockets.add(socket)
        socket.on('error', () => {})
        let count = 0
        socket.on('data', chunk => { count += chunk.length })
        answer(socket, () => count)
      })
      await new Promise<void>(resolve => server.listen(0, LOOPBACK, resolve))
      const close = async (): Promise<void> => {
        for (const socket of sockets) socket.destroy()
        await new Promise<void>(resolve => server.close(() => resolve()))
      }
      fx.onCleanup(close)
      return { port: (server.address() as net.AddressInfo).port, close }
    }

    it('a peer that answers our key with 96 zero bytes: degenerate-key, and no plaintext retry (it spoke)', async () => {
      const peer = await fakePeer(socket => { socket.once('data', () => socket.write(Buffer.alloc(96))) })
      const downloader = await fx.ours('preferred')
      download(downloader, seeding.torrentFile, [`${LOOPBACK}:${peer.port}`])
      await until(() => (downloader.mseStats.errors['degenerate-key'] ?? 0) >= 1, 5000, 'degenerate-key')
      const stats = downloader.mseStats
      expect(stats.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
      expect(stats.attempts.plaintext).to.equal(0)
    })

    it('a peer that answers with a key and then garbage: sync-not-found (no ENCRYPT(VC) within 616 bytes)', async () => {
      const peer = await fakePeer((socket, received) => {
        const { publicKey } = attackerKeys()
        socket.once('data', () => {
          socket.write(publicKey)
          // Flight 3 is at least 20 + 20 + 14 + 2 bytes after the key and pad.
          const timer = setInterval(() => {
            if (received() < 96 + 56) return
            clearInterval(timer)
            socket.write(seededBytes(600, 35))
          }, 10)
          socket.once('close', () => clearInterval(timer))
        })
      })
      const downloader = await fx.ours('preferred')
      download(downloader, seeding.torrentFile, [`${LOOPBACK}:${peer.port}`])
      await until(() => (downloader.mseStats.errors['sync-not-found'] ?? 0) >= 1, 5000, 'sync-not-found')
      expect(downloader.mseStats.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
    })
  })

  describe('afterwards', () => {
    it('keeps seeding and downloading: the concurrent download and a fresh one complete, byte for byte', async () => {
      await done(concurrent, 20_000)
      expect(await contentHash(concurrent)).to.equal(sha256(concurrentData))
      const fresh = await fx.ours('preferred')
      const data = seededBytes(1024 * 1024, 4343)
      const again = await seed(seeder, data)
      const torrent = download(fresh, again.torrentFile, [addressOf(seeder)])
      await done(torrent)
      expect(await contentHash(torrent)).to.equal(sha256(data))
      expect(torrent.wires[0].mse.method).to.equal('rc4')
      expect(seeder.destroyed).to.equal(false)
      expect(guard.errors).to.deep.equal([])
    })
  })

  describe('contrast: upstream webtorrent 3 (child processes only)', function () {
    const listener = fileURLToPath(new URL('./fixtures/upstream-listener.mjs', import.meta.url))

    async function startUpstream (secure: number): Promise<{ child: ReturnType<typeof spawn>, port: number, exit: Promise<number | null>, stderr: () => string }> {
      const child = spawn(process.execPath, [listener, String(secure)], { stdio: ['ignore', 'pipe', 'pipe'] })
      fx.onCleanup(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
      let stderr = ''
      child.stderr!.on('data', chunk => { stderr += String(chunk) })
      const exit = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
      const port = await within(new Promise<number>((resolve, reject) => {
        let out = ''
        child.stdout!.on('data', chunk => {
          out += String(chunk)
          if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!).port)
        })
        child.once('exit', code => reject(new Error(`upstream child exited early (${code}): ${stderr}`)))
      }), 10_000, 'the upstream child to listen')
      return { child, port, exit, stderr: () => stderr }
    }

    for (const secure of [1, 2]) {
      it(`upstream with secure ${secure}: 96 zero bytes to its listening port kill the process`, async () => {
        const upstream = await startUpstream(secure)
        const attacker = new Attacker(upstream.port)
        await attacker.connected
        attacker.socket.write(Buffer.alloc(96))
        const code = await within(upstream.exit, 10_000, 'the upstream child to die')
        expect(code).to.not.equal(0)
        expect(upstream.stderr()).to.match(/ERR_CRYPTO_INVALID_KEYLEN|Supplied key is too small/)
      })
    }

    it('upstream with secure 0 survives (it just hangs up), as does our client above', async () => {
      const upstream = await startUpstream(0)
      const attacker = new Attacker(upstream.port)
      await attacker.connected
      attacker.socket.write(Buffer.alloc(96))
      await attacker.closedByPeer()
      const exited = await Promise.race([upstream.exit.then(() => true), new Promise(resolve => setTimeout(() => resolve(false), 300))])
      expect(exited).to.equal(false)
      expect(upstream.child.exitCode).to.equal(null)
    })
  })
})
