/**
 * The incoming handshake budget on a real listening client: connections over a per-address cap or rate
 * are closed before a byte is read and counted in `mseStats.budget`; other addresses and a legitimate
 * download are unaffected while a small flood of valid keys hits the same port.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { floodConnection, randomPeerKey } from './flood.js'
import { Fixtures, addressOf, contentHash, done, download, portOf, seed } from './helpers.js'
import { CrashGuard, seededBytes, sha256, until, within } from 'test-support'

/** A raw connection from `localAddress` that sends nothing until told to. */
function silentConnection (port: number, localAddress: string): { socket: net.Socket, closed: Promise<number> } {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress })
  socket.on('error', () => {})
  let received = 0
  socket.on('data', chunk => { received += chunk.length })
  const closed = new Promise<number>(resolve => socket.once('close', () => resolve(received)))
  return { socket, closed }
}

describe('incoming handshake budget', function () {
  this.timeout(60_000)
  const fx = new Fixtures()
  const guard = new CrashGuard()
  beforeEach(() => guard.install())
  afterEach(async () => {
    guard.uninstall()
    await fx.cleanup()
    expect(guard.errors, 'uncaught exceptions / unhandled rejections').to.deep.equal([])
  })

  it('refuses a connection over the per-address cap unread, counts it, and still serves other addresses', async () => {
    const seeder = await fx.ours('required', { mseHandshakeBudget: { maxInFlightPerAddress: 2 } })
    await seed(seeder, seededBytes(64 * 1024, 1))
    const port = portOf(seeder)
    const held = [0, 1, 2].map(() => silentConnection(port, '127.0.0.3'))
    fx.onCleanup(() => { for (const { socket } of held) socket.destroy() })
    // Two are admitted and wait for a key (30 s stage timeout); the third is closed at once.
    const bytesOfRefused = await within(Promise.race(held.map(h => h.closed)), 10_000, 'the connection over the cap to be closed')
    expect(bytesOfRefused).to.equal(0)
    expect(seeder.mseStats.budget).to.deep.include({ admitted: 2, inFlight: 2 })
    expect(seeder.mseStats.budget.refused).to.deep.equal({ 'global-cap': 0, 'address-cap': 1, 'address-rate': 0 })

    // Another address is admitted and answered (its key costs us the DH work the budget meters).
    const other = await within(floodConnection({ port, localAddress: '127.0.0.4' }), 10_000, 'a flood connection from 127.0.0.4')
    expect(other.answered).to.equal(true)
    expect(seeder.mseStats.errors['sync-not-found']).to.equal(1)

    // Closing the held connections gives their slots back.
    for (const { socket } of held) socket.destroy()
    await until(() => seeder.mseStats.budget.inFlight === 0, 10_000, 'the held slots to be released')
    expect(seeder.mseStats.budget.admitted).to.equal(3)
  })

  it('gives a failed handshake\'s slot back at once, while its connection still lingers', async () => {
    // A long stage timeout: the failed connection lingers (probe-linger.ts) far beyond this test.
    const seeder = await fx.ours('required', { mseStageTimeoutMs: 300_000, mseHandshakeBudget: { maxInFlightPerAddress: 1 } })
    await seed(seeder, seededBytes(64 * 1024, 4))
    const port = portOf(seeder)
    const failing = silentConnection(port, '127.0.0.10')
    fx.onCleanup(() => failing.socket.destroy())
    let lingerClosed = false
    failing.socket.once('close', () => { lingerClosed = true })
    failing.socket.once('connect', () => failing.socket.write(Buffer.concat([randomPeerKey(), randomBytes(256)])))
    // Answered: junk past the 628-byte sync window, without hanging up, so the failed handshake lingers.
    failing.socket.once('data', () => failing.socket.write(randomBytes(628)))
    await until(() => seeder.mseStats.errors['sync-not-found'] === 1, 20_000, 'the handshake to fail')
    expect(seeder.mseStats.budget.inFlight).to.equal(0)

    // The address's only slot is free again: a second connection from it is admitted and answered.
    const next = await within(floodConnection({ port, localAddress: '127.0.0.10' }), 20_000, 'a second connection from 127.0.0.10')
    expect(next.answered).to.equal(true)
    expect(seeder.mseStats.budget.refused['address-cap']).to.equal(0)
    expect(lingerClosed, 'the failed connection still lingers').to.equal(false)
  })

  it('refuses an address over its rate once its burst is spent, before any DH work', async () => {
    const seeder = await fx.ours('required', { mseHandshakeBudget: { burstPerAddress: 3, ratePerAddress: 0.001 } })
    await seed(seeder, seededBytes(64 * 1024, 2))
    const results = []
    for (let i = 0; i < 5; i++) {
      results.push(await within(floodConnection({ port: portOf(seeder), localAddress: '127.0.0.5' }), 10_000, `flood connection ${i}`))
    }
    expect(results.map(r => r.answered)).to.deep.equal([true, true, true, false, false])
    expect(results.slice(3).map(r => r.bytesReceived)).to.deep.equal([0, 0])
    const { budget, errors } = seeder.mseStats
    expect(budget.refused).to.deep.equal({ 'global-cap': 0, 'address-cap': 0, 'address-rate': 2 })
    // Only the three admitted connections reached the handshake (and failed it).
    expect(errors).to.deep.equal({ 'sync-not-found': 3 })
  })

  it('refuses everything over the global cap, whatever the address', async () => {
    const seeder = await fx.ours('required', { mseHandshakeBudget: { maxInFlight: 3 } })
    const port = portOf(seeder)
    const held = ['127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'].map(address => silentConnection(port, address))
    fx.onCleanup(() => { for (const { socket } of held) socket.destroy() })
    const bytesOfRefused = await within(Promise.race(held.map(h => h.closed)), 10_000, 'the connection over the global cap to be closed')
    expect(bytesOfRefused).to.equal(0)
    expect(seeder.mseStats.budget).to.deep.include({ admitted: 3, inFlight: 3, peakInFlight: 3 })
    expect(seeder.mseStats.budget.refused['global-cap']).to.equal(1)
  })

  it('a legitimate download completes while a flood of valid keys from 8 addresses hits the same port', async () => {
    const seeder = await fx.ours('required', { mseHandshakeBudget: { maxInFlightPerAddress: 4, burstPerAddress: 8, ratePerAddress: 1 } })
    const data = seededBytes(1024 * 1024, 3)
    const seeding = await seed(seeder, data)
    const port = portOf(seeder)
    const flooders = Array.from({ length: 8 }, (_, i) => `127.0.2.${i + 1}`)

    let downloading = true
    let sent = 0
    const flood = async (address: string): Promise<void> => {
      // Bounded: at most 100 connections per address, and only while the download runs.
      for (let i = 0; i < 100 && downloading; i++) {
        const result = await floodConnection({ port, localAddress: address, maxMs: 10_000 })
        if (!result.connectFailed) sent += 1
      }
    }
    // Each address keeps 6 connections going at once, above its cap of 4.
    const flooding = Promise.all(flooders.flatMap(address => Array.from({ length: 6 }, async () => await flood(address))))
    await until(() => seeder.mseStats.budget.refused['address-cap'] + seeder.mseStats.budget.refused['address-rate'] > 0, 20_000, 'the flood to be refused')

    const downloader = await fx.ours('required')
    const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])
    try {
      await done(torrent, 40_000)
    } finally {
      downloading = false
    }
    expect(await contentHash(torrent)).to.equal(sha256(data))
    await within(flooding, 30_000, 'the flood to stop')

    const { budget, connected, errors } = seeder.mseStats
    expect(connected.rc4).to.be.at.least(1)
    expect(sent).to.be.greaterThan(48)
    // Every admitted connection went through a handshake (the flood's fail, the download's succeeds); every
    // other one was refused unread.
    const outcomes = Object.values(errors as Record<string, number>).reduce((a, b) => a + b, 0) + connected.rc4
    expect(outcomes).to.equal(budget.admitted)
    expect(budget.admitted + budget.refused['address-cap'] + budget.refused['address-rate']).to.equal(sent + connected.rc4)
    expect(budget.refused['global-cap']).to.equal(0)
    expect(budget.peakInFlight).to.be.at.most(8 * 4 + 1)
    expect(budget.trackedAddresses).to.equal(9)
  })
})
