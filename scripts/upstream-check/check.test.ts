/**
 * `npm run upstream:check`: the upstream PR series (upstream/) proven on the published packages.
 *
 * Runs only inside the tree scripts/upstream-check/prepare.sh builds, where `webtorrent` and
 * `bittorrent-protocol` are the npm releases with the series applied and `pristine-webtorrent` /
 * `pristine-bittorrent-protocol` are the same releases as published. Each check is one test:
 * - the pristine releases crash on 96 zero bytes, accept a one-byte downgrade of `secure: 2`, accept a
 *   plaintext handshake at `secure: 2`, never fall back to plaintext at `secure: 1`, and ignore `listenBacklog`;
 * - the patched releases do none of that (their TCP listener takes the `listenBacklog` it is given);
 * - the series' own new tape test files pass, run as upstream runs them;
 * - the patched releases interoperate with Debian's libtorrent (RC4 both ways; plaintext fallback against
 *   pe_disabled) and with this project's client, downloads checked by SHA-256, through scripts/interop/;
 * - webtorrent-node's own tests pass over the patched releases, except its canaries of the fixed upstream
 *   defects, which must now fail (the upstream-facing files by default, all with UPSTREAM_CHECK_SUITE=full).
 */
import net from 'node:net'
import { spawn } from 'node:child_process'
import { createDiffieHellman, randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import { NODE_DEFAULT_BACKLOG, listenBacklogOf, somaxconn, within } from 'test-support'
import type { PeerHandle } from '../interop/peers/common.js'
import type { RandomTorrent } from '../interop/torrents.js'
import type { Secure } from '../interop/webtorrent-side.js'
import type { EncryptionPolicy } from '../interop/ours-side.js'
import type { Torrent } from 'webtorrent'

/** A torrent of the patched webtorrent: upstream/webtorrent/0001 adds the addresses it redials in plaintext. */
type PatchedTorrent = Torrent & { _plaintextPeers: Set<string> }

const here = dirname(fileURLToPath(import.meta.url))
// webtorrent-node's own upstream listener fixture, given the module to load.
const LISTENER = join(here, '..', '..', 'packages', 'webtorrent-node', 'test', 'fixtures', 'upstream-listener.mjs')
const nodeModules = join(here, '..', '..', 'node_modules')

const BT_PROTOCOL = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol')])
const isPlaintextHandshake = (first: Buffer): boolean => first.length >= 20 && first.subarray(0, 20).equals(BT_PROTOCOL)

// The releases with the series applied, and as published (only in the tree prepare.sh builds). Loaded with
// import(): mocha loads this file through tsx's CommonJS hook, and bittorrent-protocol exports only `import`.
// The interop helpers too: they import ESM-only packages (create-torrent), which a CommonJS load cannot.
let PatchedWire: any, PristineWire: any, PatchedWebTorrent: any, PristineWebTorrent: any
let DH_PRIME_HEX: string
/** Every discovery mechanism off and TCP only: these clients talk only to the loopback peers added by hand. */
let LOOPBACK_ONLY: Readonly<Record<string, unknown>>
let startLibtorrent: typeof import('../interop/peers/libtorrent.js').startLibtorrent
let makeTempDir: typeof import('../interop/peers/common.js').makeTempDir
let removeDir: typeof import('../interop/peers/common.js').removeDir
let sha256File: typeof import('../interop/peers/common.js').sha256File
let requirePeers: typeof import('../interop/availability.js').requirePeers
let makeRandomTorrent: typeof import('../interop/torrents.js').makeRandomTorrent
let side: typeof import('../interop/webtorrent-side.js')
let ours: typeof import('../interop/ours-side.js')
before(async function () {
  // upstream warns on every `secure: 2` client when Node has no native RC4: known, and noise here
  const warn = console.warn
  console.warn = (...args: unknown[]) => { if (!/Native RC4 implementation/.test(String(args[0]))) warn(...args) }
  PatchedWire = (await import('bittorrent-protocol')).default
  PristineWire = (await import('pristine-bittorrent-protocol' as string)).default
  PatchedWebTorrent = (await import('webtorrent')).default
  PristineWebTorrent = (await import('pristine-webtorrent' as string)).default
  ;({ DH_PRIME_HEX } = await import('mse-core'))
  ;({ LOOPBACK_ONLY } = await import('webtorrent-node'))
  ;({ startLibtorrent } = await import('../interop/peers/libtorrent.js'))
  ;({ makeTempDir, removeDir, sha256File } = await import('../interop/peers/common.js'))
  ;({ requirePeers } = await import('../interop/availability.js'))
  ;({ makeRandomTorrent } = await import('../interop/torrents.js'))
  side = await import('../interop/webtorrent-side.js')
  ours = await import('../interop/ours-side.js')
})

/** Cleanups in reverse order, after each test. */
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

// ---------------------------------------------------------------------------------------------------------
// The remote crash

interface Listener { port: number, exit: Promise<number | null>, alive: () => boolean, stderr: () => string }

async function startListener (moduleName: string, secure: Secure): Promise<Listener> {
  const child = spawn(process.execPath, [LISTENER, String(secure), moduleName], { stdio: ['ignore', 'pipe', 'pipe'] })
  cleanups.push(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += String(chunk) })
  const exit = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const port = await within(new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', chunk => {
      out += String(chunk)
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!).port)
    })
    child.once('exit', code => reject(new Error(`listener exited early (${code}): ${stderr}`)))
  }), 60_000, `${moduleName} listener to start`)
  return { port, exit, alive: () => child.exitCode === null && child.signalCode === null, stderr: () => stderr }
}

/** Connects, writes `bytes`, resolves with everything received once the other side closes. */
async function exchange (port: number, bytes: Buffer, bound = 30_000): Promise<Buffer> {
  return await within(new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    socket.on('data', chunk => chunks.push(chunk))
    socket.on('error', () => {}) // a reset is a close too
    socket.once('close', () => resolve(Buffer.concat(chunks)))
    cleanups.push(() => socket.destroy())
    setTimeout(() => reject(new Error('no close')), bound).unref()
  }), bound + 1000, 'the listener to close the connection')
}

/** A valid MSE key (96 bytes, big-endian) and 0..512 bytes of padding: what a real initiator sends first. */
function validKeyAndPad (): Buffer {
  const dh = createDiffieHellman(DH_PRIME_HEX, 'hex', 2)
  dh.setPrivateKey(randomBytes(20))
  const key = dh.generateKeys()
  return Buffer.concat([Buffer.alloc(96 - key.length), key, randomBytes(32)])
}

/** Resolves with the first bytes the listener answers to a valid key (its Yb + PadB), then hangs up. */
async function answerToValidKey (port: number): Promise<Buffer> {
  return await within(new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(validKeyAndPad()))
    let got = Buffer.alloc(0)
    socket.on('data', chunk => {
      got = Buffer.concat([got, chunk])
      if (got.length >= 96) { socket.destroy(); resolve(got) }
    })
    socket.on('error', reject)
    socket.once('close', () => reject(new Error(`closed after ${got.length} bytes`)))
  }), 30_000, 'the listener to answer a valid key')
}

// ---------------------------------------------------------------------------------------------------------
// secure: 2 in bittorrent-protocol

/** Two wires relayed like sockets; `tamper` may change what the responder sends (chunk index n). */
function relayed (Wire: any, levelA: number, levelB: number, tamper: (chunk: Uint8Array, n: number) => Uint8Array): { a: any, b: any } {
  const a = new Wire('tcpOutgoing', levelA)
  const b = new Wire('tcpIncoming', levelB)
  a.on('error', () => {})
  b.on('error', () => {})
  a.on('data', (chunk: Uint8Array) => b.write(new Uint8Array(chunk)))
  let n = 0
  b.on('data', (chunk: Uint8Array) => a.write(tamper(new Uint8Array(chunk), n++)))
  cleanups.push(() => { a.destroy(); b.destroy() })
  return { a, b }
}

/**
 * The responder's second chunk is step 4, ENCRYPT(VC, crypto_select, len(PadD), PadD): RC4 is malleable, so
 * XOR-ing byte 11 (crypto_select's last byte) with 0x03 turns an encrypted 0x02 into 0x01 without any key.
 */
const flipSelect = (chunk: Uint8Array, n: number): Uint8Array => {
  if (n === 1) chunk[11]! ^= 0x03
  return chunk
}

/** Runs the PE handshake of two relayed secure-2 wires with step 4 flipped: the initiator's outcome. */
async function downgradeOutcome (Wire: any): Promise<{ method?: number, error?: string }> {
  const infoHash = randomBytes(20).toString('hex')
  const { a, b } = relayed(Wire, 2, 2, flipSelect)
  b.once('crypto-infohash', () => b.setInfoHash(infoHash))
  const outcome = new Promise<{ method?: number, error?: string }>(resolve => {
    a.once('crypto-handshake', () => resolve({ method: a._encryptionMethod }))
    a.once('error', (err: Error) => resolve({ error: err.message }))
    a.once('close', () => resolve({ error: 'closed' }))
  })
  a.startEncryption(infoHash)
  return await within(outcome, 30_000, 'the initiator to finish or fail')
}

/** A secure-2 responder wire fed a plaintext BitTorrent handshake: 'handshake' accepted, or refused. */
async function plaintextHandshakeOutcome (Wire: any): Promise<string> {
  const wire = new Wire('tcpIncoming', 2)
  cleanups.push(() => wire.destroy())
  const outcome = new Promise<string>(resolve => {
    wire.once('handshake', () => resolve('accepted'))
    wire.once('error', (err: Error) => resolve(`refused: ${err.message}`))
    wire.once('close', () => resolve('refused: closed'))
  })
  wire.write(Buffer.concat([BT_PROTOCOL, Buffer.alloc(8), randomBytes(20), randomBytes(20)]))
  return await within(outcome, 30_000, 'the responder to accept or refuse')
}

// ---------------------------------------------------------------------------------------------------------
// secure: 1 fallback in webtorrent

/**
 * A peer without PE: it reads the first bytes of each connection, answers nothing and hangs up. Resolves with
 * the first chunk of each of the first `count` connections a client makes to it.
 */
async function dialsTo (WebTorrent: any, secure: Secure, count: number): Promise<Buffer[]> {
  const firsts: Buffer[] = []
  let done: (value: Buffer[]) => void = () => {}
  const finished = new Promise<Buffer[]>(resolve => { done = resolve })
  const server = net.createServer(socket => {
    socket.on('error', () => {})
    socket.once('data', chunk => {
      firsts.push(chunk)
      socket.destroy()
      if (firsts.length === count) done(firsts)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise(resolve => server.close(resolve)))
  const client = new WebTorrent({ ...LOOPBACK_ONLY, secure })
  client.on('error', () => {})
  cleanups.push(() => new Promise(resolve => client.destroy(resolve)))
  const torrent = client.add(randomBytes(20).toString('hex'), { announce: [] })
  torrent.on('infoHash', () => torrent.addPeer(`127.0.0.1:${(server.address() as net.AddressInfo).port}`))
  // the reconnect waits are 1 s, 5 s, 15 s: three dials take about 6 s
  return await within(finished, 60_000, `${count} dials`)
}

const kinds = (firsts: Buffer[]): string[] => firsts.map(f => isPlaintextHandshake(f) ? 'plaintext' : 'mse')

// ---------------------------------------------------------------------------------------------------------
// The TCP listener's backlog in webtorrent

/** The backlog the kernel holds for the TCP listener of a client built with `opts`. */
async function listenerBacklog (WebTorrent: any, opts: object): Promise<number> {
  const client = new WebTorrent({ ...LOOPBACK_ONLY, ...opts })
  client.on('error', () => {})
  cleanups.push(() => side.destroyWebTorrent(client))
  return listenBacklogOf(await side.listeningPort(client))
}

/** At or below Node's default, the kernel's cap hides whether the option reached listen(). */
function requireSomaxconnAboveDefault (ctx: Mocha.Context): void {
  if (somaxconn() <= NODE_DEFAULT_BACKLOG) {
    ctx.test!.title += ` (skipped: net.core.somaxconn ${somaxconn()} <= ${NODE_DEFAULT_BACKLOG})`
    ctx.skip()
  }
}

// ---------------------------------------------------------------------------------------------------------
// Real peers

async function randomTorrent (dir: string): Promise<RandomTorrent> {
  return await makeRandomTorrent({ dir: join(dir, 'src'), size: 1024 * 1024 + 77 })
}

function tempDir (): string {
  const dir = makeTempDir('upstream-check-')
  cleanups.push(() => removeDir(dir))
  return dir
}

function peer<T extends PeerHandle> (p: T): T {
  cleanups.push(() => p.stop())
  return p
}

async function patchedWebTorrent (secure: Secure): Promise<{ client: any, port: number }> {
  const client = side.createWebTorrent(secure)
  cleanups.push(() => side.destroyWebTorrent(client))
  return { client, port: await side.listeningPort(client) }
}

async function ourClient (encryption: EncryptionPolicy): Promise<{ client: any, port: number }> {
  const client = ours.createOurClient(encryption)
  cleanups.push(() => ours.destroyOurClient(client))
  return { client, port: await ours.ourListeningPort(client) }
}

/**
 * bittorrent-protocol's method of every wire the torrent had (2 RC4, 1 plaintext after PE, null none), read
 * when asked: `torrent.wires` forgets a wire once it closes (a seed drops a peer that became a seed).
 */
function recordMethods (torrent: any): () => Array<number | null> {
  const wires: any[] = []
  torrent.on('wire', (wire: any) => wires.push(wire))
  return () => wires.map(w => w._encryptionMethod ?? null)
}

// ---------------------------------------------------------------------------------------------------------

describe('pristine bittorrent-protocol 5.0.9 + webtorrent 3.0.21 (as published)', function () {
  it('96 zero bytes to a secure 1 listener kill the process (ERR_CRYPTO_INVALID_KEYLEN)', async function () {
    const listener = await startListener('pristine-webtorrent', 1)
    await exchange(listener.port, Buffer.alloc(96)).catch(() => Buffer.alloc(0))
    const code = await within(listener.exit, 30_000, 'the pristine listener to die')
    expect(code).to.not.equal(0)
    expect(listener.stderr()).to.match(/ERR_CRYPTO_INVALID_KEYLEN|Supplied key is too small/)
  })

  it('a secure 2 initiator accepts a crypto_select flipped to plaintext by one byte on the path', async function () {
    expect(await downgradeOutcome(PristineWire)).to.deep.equal({ method: 1 })
  })

  it('a secure 2 responder accepts a plaintext BitTorrent handshake', async function () {
    expect(await plaintextHandshakeOutcome(PristineWire)).to.equal('accepted')
  })

  it('secure 1 never falls back: a peer that hangs up on the PE key gets the PE key again on the reconnect', async function () {
    expect(kinds(await dialsTo(PristineWebTorrent, 1, 2))).to.deep.equal(['mse', 'mse'])
  })

  it('listenBacklog is ignored: the TCP listener keeps Node\'s default backlog (511)', async function () {
    requireSomaxconnAboveDefault(this)
    expect(await listenerBacklog(PristineWebTorrent, { listenBacklog: 1000 })).to.equal(NODE_DEFAULT_BACKLOG)
  })
})

describe('patched (upstream/ series applied to the same releases)', function () {
  it('96 zero bytes to a secure 1 listener close that connection without a byte; the process still serves', async function () {
    const listener = await startListener('webtorrent', 1)
    const got = await exchange(listener.port, Buffer.alloc(96))
    expect(got.length, 'bytes sent back to the attacker').to.equal(0)
    const answer = await answerToValidKey(listener.port)
    expect(answer.length, 'Yb (+ PadB) for the next, valid key').to.be.at.least(96)
    expect(listener.alive(), listener.stderr()).to.equal(true)
  })

  it('96 zero bytes to a secure 2 listener: the same', async function () {
    const listener = await startListener('webtorrent', 2)
    expect((await exchange(listener.port, Buffer.alloc(96))).length).to.equal(0)
    expect((await answerToValidKey(listener.port)).length).to.be.at.least(96)
    expect(listener.alive(), listener.stderr()).to.equal(true)
  })

  it('a secure 2 initiator refuses the flipped crypto_select', async function () {
    const outcome = await downgradeOutcome(PatchedWire)
    expect(outcome.error).to.match(/selected crypto method 1, which was not offered/)
  })

  it('a secure 2 responder refuses a plaintext BitTorrent handshake', async function () {
    expect(await plaintextHandshakeOutcome(PatchedWire)).to.match(/^refused: .*plaintext handshake refused/)
  })

  it('secure 1 retries a peer that hangs up on the PE key once in plaintext, and remembers it', async function () {
    expect(kinds(await dialsTo(PatchedWebTorrent, 1, 3))).to.deep.equal(['mse', 'plaintext', 'plaintext'])
  })

  it('secure 2 never falls back: PE key on every dial', async function () {
    expect(kinds(await dialsTo(PatchedWebTorrent, 2, 2))).to.deep.equal(['mse', 'mse'])
  })

  it('listenBacklog 1000: the TCP listener\'s backlog is 1000 (capped at somaxconn); without it Node\'s 511', async function () {
    requireSomaxconnAboveDefault(this)
    expect(await listenerBacklog(PatchedWebTorrent, { listenBacklog: 1000 })).to.equal(Math.min(1000, somaxconn()))
    expect(await listenerBacklog(PatchedWebTorrent, {})).to.equal(NODE_DEFAULT_BACKLOG)
  })
})

describe('the series\' own new tape test files, run as upstream runs them', function () {
  const tape = join(nodeModules, 'tape', 'bin', 'tape')
  const files: Array<[pkg: string, file: string]> = [
    ['bittorrent-protocol', 'test/mse-peer-input.js'],
    ['bittorrent-protocol', 'test/mse-dh.js'],
    ['bittorrent-protocol', 'test/mse-pad.js'],
    ['webtorrent', 'test/node/encryption-fallback.js'],
    ['webtorrent', 'test/node/listen-backlog.js']
  ]
  for (const [pkg, file] of files) {
    it(`${pkg} ${file}`, async function () {
      const cwd = join(nodeModules, pkg)
      const child = spawn(process.execPath, [tape, file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
      cleanups.push(() => { if (child.exitCode === null) child.kill('SIGKILL') })
      let out = ''
      child.stdout.on('data', chunk => { out += String(chunk) })
      child.stderr.on('data', chunk => { out += String(chunk) })
      const code = await within(new Promise<number | null>(resolve => child.once('exit', resolve)), 110_000, `tape ${file}`)
      const pass = Number(/^# pass +(\d+)/m.exec(out)?.[1] ?? 0)
      expect(code, out.slice(-2000)).to.equal(0)
      expect(out, out.slice(-2000)).to.not.match(/^not ok/m)
      expect(pass, 'assertions passed').to.be.greaterThan(0)
      this.test!.title += ` (${pass} assertions)`
    })
  }
})

describe('patched webtorrent with libtorrent (Debian), SHA-256 verified', function () {
  beforeEach(async function () { await requirePeers(this, 'libtorrent') })

  it('secure 2 downloads from libtorrent pe_forced/pe_rc4: RC4', async function () {
    const dir = tempDir()
    const t = await randomTorrent(dir)
    const seeder = peer(await startLibtorrent({ torrent: t, mode: 'seed', seedFrom: t.contentPath, inEnc: 'forced', outEnc: 'forced', level: 'rc4' }))
    await seeder.waitForComplete(30_000)
    const { client } = await patchedWebTorrent(2)
    const torrent = side.downloadWith(client, t.torrentBuffer, join(dir, 'wt'))
    const methods = recordMethods(torrent)
    await side.addPeerWhenReady(torrent, seeder.address, seeder.port)
    await side.waitDone(torrent, 60_000)
    expect(await sha256File(join(dir, 'wt', t.name))).to.equal(t.sha256)
    expect(methods()).to.include(2)
  })

  it('libtorrent pe_forced/pe_rc4 dials and downloads from secure 2: RC4', async function () {
    const dir = tempDir()
    const t = await randomTorrent(dir)
    const { client, port } = await patchedWebTorrent(2)
    await side.seedWith(client, t.torrentBuffer, t.contentDir)
    const lt = peer(await startLibtorrent({ torrent: t, mode: 'download', inEnc: 'forced', outEnc: 'forced', level: 'rc4', connect: [`127.0.0.1:${port}`] }))
    await lt.waitForComplete(60_000)
    expect(await sha256File(lt.contentPath())).to.equal(t.sha256)
    expect([...lt.seenPeers().values()].map(p => p.encryption), lt.logTail()).to.include('rc4')
  })

  it('secure 1 downloads from libtorrent pe_disabled: one PE attempt, then the plaintext retry completes', async function () {
    const dir = tempDir()
    const t = await randomTorrent(dir)
    const seeder = peer(await startLibtorrent({ torrent: t, mode: 'seed', seedFrom: t.contentPath, inEnc: 'disabled', outEnc: 'disabled', level: 'both' }))
    await seeder.waitForComplete(30_000)
    const { client } = await patchedWebTorrent(1)
    const torrent = side.downloadWith(client, t.torrentBuffer, join(dir, 'wt'))
    await side.addPeerWhenReady(torrent, seeder.address, seeder.port)
    await side.waitDone(torrent, 60_000)
    expect(await sha256File(join(dir, 'wt', t.name))).to.equal(t.sha256)
    expect([...seeder.seenPeers().values()].map(p => p.encryption), seeder.logTail()).to.include('none')
    expect((torrent as PatchedTorrent)._plaintextPeers.has(`${seeder.address}:${seeder.port}`), 'address remembered as plaintext').to.equal(true)
  })
})

describe('patched webtorrent with this project\'s client (webtorrent-node), SHA-256 verified', function () {
  it('patched secure 2 seeds, webtorrent-node `required` downloads: rc4', async function () {
    const dir = tempDir()
    const t = await randomTorrent(dir)
    const { client: seeder, port } = await patchedWebTorrent(2)
    await side.seedWith(seeder, t.torrentBuffer, t.contentDir)
    const { client } = await ourClient('required')
    const torrent = side.downloadWith(client, t.torrentBuffer, join(dir, 'ours'))
    const recorder = new ours.WireRecorder(torrent)
    await side.addPeerWhenReady(torrent, '127.0.0.1', port)
    await side.waitDone(torrent, 60_000)
    expect(await sha256File(join(dir, 'ours', t.name))).to.equal(t.sha256)
    expect(recorder.records().map(r => r.mse?.method)).to.include('rc4')
  })

  it('webtorrent-node `required` seeds, patched secure 2 downloads: RC4', async function () {
    const dir = tempDir()
    const t = await randomTorrent(dir)
    const { client: seeder, port } = await ourClient('required')
    await side.seedWith(seeder, t.torrentBuffer, t.contentDir)
    const { client } = await patchedWebTorrent(2)
    const torrent = side.downloadWith(client, t.torrentBuffer, join(dir, 'wt'))
    const methods = recordMethods(torrent)
    await side.addPeerWhenReady(torrent, '127.0.0.1', port)
    await side.waitDone(torrent, 60_000)
    expect(await sha256File(join(dir, 'wt', t.name))).to.equal(t.sha256)
    expect(methods()).to.include(2)
  })

  it('webtorrent-node `disabled` seeds, patched secure 1 downloads through the plaintext retry', async function () {
    const dir = tempDir()
    const t = await randomTorrent(dir)
    const { client: seeder, port } = await ourClient('disabled')
    await side.seedWith(seeder, t.torrentBuffer, t.contentDir)
    const { client } = await patchedWebTorrent(1)
    const torrent = side.downloadWith(client, t.torrentBuffer, join(dir, 'wt'))
    await side.addPeerWhenReady(torrent, '127.0.0.1', port)
    await side.waitDone(torrent, 60_000)
    expect(await sha256File(join(dir, 'wt', t.name))).to.equal(t.sha256)
    expect((torrent as PatchedTorrent)._plaintextPeers.has(`127.0.0.1:${port}`), 'address remembered as plaintext').to.equal(true)
  })
})

// ---------------------------------------------------------------------------------------------------------
// Forward compatibility: webtorrent-node's own tests over the patched releases

/**
 * webtorrent-node tests that pin a defect of the published releases (they assert the defect, so that a
 * release that fixes it is noticed). Over the patched releases each must fail, and nothing else may.
 */
const CANARIES = [
  'upstream with secure 1: 96 zero bytes to its listening port kill the process',
  'upstream with secure 2: 96 zero bytes to its listening port kill the process',
  'upstream secure 2, we tolerated: plaintext - upstream secure 2 still accepts a plaintext handshake',
  'we disabled, upstream secure 1: refused (encryption-refused) - upstream never retries in plaintext: no connection, ever',
  'upstream secure 2 accepts a plaintext select it never offered: the payload travels in clear'
]

/**
 * The upstream-facing files by default; UPSTREAM_CHECK_SUITE=full runs every test file of webtorrent-node
 * (read from its test folder, so a new file is never left out).
 */
const FORWARD_FILES = process.env.UPSTREAM_CHECK_SUITE === 'full'
  ? readdirSync(join(here, '..', '..', 'packages', 'webtorrent-node', 'test')).filter(f => f.endsWith('.test.ts')).map(f => f.slice(0, -'.test.ts'.length)).sort()
  : ['seams', 'register', 'upstream-interop', 'hostile-input', 'plaintext-peer', 'listen-backlog']

interface MochaJsonTest { title: string, fullTitle: string, file: string, err: { message?: string } }

describe('webtorrent-node\'s own tests over the patched releases (forward compatibility)', function () {
  const results = new Map<string, { passed: string[], failed: MochaJsonTest[] }>()
  const cwd = join(here, '..', '..', 'packages', 'webtorrent-node')

  before(async function () {
    this.timeout(1_800_000)
    const out = join(tempDir(), 'results.json')
    const mocha = join(nodeModules, 'mocha', 'bin', 'mocha.js')
    const args = [mocha, '--no-config', '--node-option', 'import=tsx', '--node-option', 'conditions=source', '--timeout', '20000',
      '--exit', '--reporter', 'json', '--reporter-option', `output=${out}`, ...FORWARD_FILES.map(f => `test/${f}.test.ts`)]
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', chunk => { stderr += String(chunk) })
    await within(new Promise(resolve => child.once('exit', resolve)), 1_790_000, 'webtorrent-node\'s tests')
    const { readFile } = await import('node:fs/promises')
    const report = JSON.parse(await readFile(out, 'utf8').catch(() => { throw new Error(`no mocha report: ${stderr.slice(-2000)}`) }))
    for (const f of FORWARD_FILES) results.set(f, { passed: [], failed: [] })
    const fileOf = (t: MochaJsonTest): string => t.file.split('/').pop()!.replace('.test.ts', '')
    for (const t of report.passes as MochaJsonTest[]) results.get(fileOf(t))?.passed.push(t.fullTitle)
    for (const t of report.failures as MochaJsonTest[]) results.get(fileOf(t))?.failed.push(t)
  })

  for (const file of FORWARD_FILES) {
    it(`test/${file}.test.ts: every test passes except the canaries of fixed upstream defects`, function () {
      const r = results.get(file)!
      const unexpected = r.failed.filter(t => !CANARIES.some(c => t.fullTitle.includes(c)))
      const lines = unexpected.map(t => `${t.fullTitle}: ${String(t.err.message).split('\n')[0]}`)
      expect(lines.length, `unexpected failures:\n${lines.join('\n')}`).to.equal(0)
      expect(r.passed.length + r.failed.length, 'tests run').to.be.greaterThan(0)
      this.test!.title += ` (${r.passed.length} passed${r.failed.length ? `, ${r.failed.length} canaries` : ''})`
    })
  }

  for (const canary of CANARIES) {
    it(`canary fails, its defect is fixed: "${canary}"`, function () {
      const all = [...results.values()]
      const failed = all.flatMap(r => r.failed).find(t => t.fullTitle.includes(canary))
      const passed = all.flatMap(r => r.passed).find(title => title.includes(canary))
      expect(passed, 'the canary still passes: the defect is still there').to.equal(undefined)
      expect(failed, 'the canary did not run').to.not.equal(undefined)
      this.test!.title += ` (${String(failed!.err.message).split('\n')[0].slice(0, 100)})`
    })
  }
})
