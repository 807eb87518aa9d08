/**
 * Backpressure end to end: a slow reader must slow the writer down through the stream, the socket and the
 * peer's stream, not pile bytes up in memory. 64 MiB go through; process memory (rss and ArrayBuffers) is
 * sampled all along and must stay within a generous bound above the baseline; every byte must arrive.
 */
import { expect } from 'chai'
import { createHash } from 'node:crypto'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { EncryptionPolicy } from 'mse-core'
import { awaitedLater, failOnUncaught, fetchBlocks, bittorrentHandshake, roomyPads, serveBlocks, sha256, sleep, streamPair, testData, within, wirePair } from './helpers.js'

const MiB = 1024 * 1024
const MEMORY_BOUND = 48 * MiB

/**
 * A young-generation gc() when the flag can be set at run time. The watch runs it before each sample so it
 * measures what is retained (buffered), not short-lived garbage V8 has not collected yet (64 KiB chunks
 * and their encrypted copies can otherwise pile up to V8's external-memory GC threshold, ~64 MiB, while
 * none of them is referenced). Without it the bound still applies, with that noise on top.
 */
const minorGc: () => void = (() => {
  try {
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as (options?: object) => void
    gc()
    return () => gc({ type: 'minor' })
  } catch {
    return () => {}
  }
})()

class MemoryWatch {
  readonly baseline: NodeJS.MemoryUsage
  peakRss = 0
  peakArrayBuffers = 0
  private readonly timer: NodeJS.Timeout

  constructor () {
    minorGc()
    this.baseline = process.memoryUsage()
    this.timer = setInterval(() => this.sample(), 20)
  }

  sample (): void {
    minorGc()
    const now = process.memoryUsage()
    this.peakRss = Math.max(this.peakRss, now.rss)
    this.peakArrayBuffers = Math.max(this.peakArrayBuffers, now.arrayBuffers)
  }

  stop (): { rssGrowth: number, arrayBufferGrowth: number } {
    this.sample()
    clearInterval(this.timer)
    return { rssGrowth: this.peakRss - this.baseline.rss, arrayBufferGrowth: this.peakArrayBuffers - this.baseline.arrayBuffers }
  }
}

/** Chunk i of the test stream: a slice of a 4 MiB pattern, stamped with i so that no two chunks are equal. */
function makeChunker (chunkSize: number): (i: number) => Buffer {
  const pattern = testData('backpressure', 4 * MiB)
  return i => {
    const chunk = Buffer.allocUnsafe(chunkSize)
    pattern.copy(chunk, 0, (i * chunkSize) % pattern.length)
    chunk.writeUInt32BE(i, 0)
    return chunk
  }
}

describe('backpressure: 64 MiB through a slow reader', function () {
  this.timeout(40_000)
  failOnUncaught()

  for (const [method, initiatorPolicy, responderPolicy] of [
    ['rc4', 'required', 'required'],
    ['aes-128-ctr', 'required', 'required'],
    ['plaintext-after-mse', 'preferred', 'tolerated']
  ] as Array<[string, EncryptionPolicy, EncryptionPolicy]>) {
    const total = method === 'plaintext-after-mse' ? 32 * MiB : 64 * MiB
    // RC4 with AES off; AES with pads pinned where the extension fits (roomyPads, helpers.ts).
    const cipher = method === 'rc4' ? { aes: false } : method === 'aes-128-ctr' ? { provider: roomyPads } : {}
    it(`${method}: ${total / MiB} MiB, reader pausing every 256 KiB: memory stays flat, every byte arrives`, async () => {
      const pair = await streamPair({ initiator: { policy: initiatorPolicy, ...cipher }, responder: { policy: responderPolicy, ...cipher } })
      try {
        const [a, b] = await within(Promise.all([pair.initiator.handshake, pair.responder.handshake]), 10_000, 'outcomes')
        expect(a.method).to.equal(method)
        expect(b.method).to.equal(method)

        const chunkSize = 64 * 1024
        const chunk = makeChunker(chunkSize)
        const watch = new MemoryWatch()
        const sentHash = createHash('sha256')
        const receivedHash = createHash('sha256')
        let received = 0
        let sinceLastPause = 0
        const allReceived = new Promise<void>(resolve => {
          pair.responder.on('data', (data: any) => {
            receivedHash.update(data)
            received += data.length
            sinceLastPause += data.length
            if (received >= total) resolve()
            else if (sinceLastPause >= 256 * 1024) {
              sinceLastPause = 0
              pair.responder.pause()
              setTimeout(() => pair.responder.resume(), 5)
            }
          })
        })
        const writer = awaitedLater((async () => {
          for (let i = 0; i < total / chunkSize; i++) {
            const data = chunk(i)
            sentHash.update(data)
            if (!pair.initiator.write(data)) await within(new Promise<void>(resolve => pair.initiator.once('drain', () => resolve())), 10_000, 'drain')
          }
        })())
        await within(Promise.all([writer, allReceived]), 35_000, `${total / MiB} MiB`)
        const { rssGrowth, arrayBufferGrowth } = watch.stop()
        expect(received).to.equal(total)
        expect(receivedHash.digest('hex')).to.equal(sentHash.digest('hex'))
        expect(rssGrowth, `rss grew by ${(rssGrowth / MiB).toFixed(1)} MiB`).to.be.below(MEMORY_BOUND)
        expect(arrayBufferGrowth, `ArrayBuffers grew by ${(arrayBufferGrowth / MiB).toFixed(1)} MiB`).to.be.below(MEMORY_BOUND)
      } finally {
        pair.close()
      }
    })
  }

  it('control: a writer that ignores write() returning false does show up (the watch can see buffering)', async () => {
    const pair = await streamPair({ initiator: { policy: 'required' }, responder: { policy: 'required' } })
    try {
      await within(Promise.all([pair.initiator.handshake, pair.responder.handshake]), 10_000, 'outcomes')
      const chunk = makeChunker(64 * 1024)
      pair.responder.pause()
      const watch = new MemoryWatch()
      for (let i = 0; i < (96 * MiB) / (64 * 1024); i++) pair.initiator.write(chunk(i))
      await sleep(100)
      const { arrayBufferGrowth } = watch.stop()
      expect(arrayBufferGrowth).to.be.above(MEMORY_BOUND)
    } finally {
      pair.close()
    }
  })

  it('a reader that stops: the writer is held back (write() returns false, bytes in flight stay bounded)', async () => {
    const pair = await streamPair({ initiator: { policy: 'required' }, responder: { policy: 'required' } })
    try {
      await within(Promise.all([pair.initiator.handshake, pair.responder.handshake]), 10_000, 'outcomes')
      const chunk = makeChunker(64 * 1024)
      let received = 0
      pair.responder.on('data', (data: any) => { received += (data as Uint8Array).length })
      pair.responder.pause()
      let written = 0
      let i = 0
      const watch = new MemoryWatch()
      // Write as long as the stream keeps draining; once 'drain' stops coming, the writer is held back.
      for (;;) {
        const more = pair.initiator.write(chunk(i++))
        written += 64 * 1024
        if (written > 256 * MiB) break
        if (more) continue
        let onDrain!: () => void
        const drained = await Promise.race([
          new Promise<boolean>(resolve => { onDrain = () => resolve(true); pair.initiator.once('drain', onDrain) }),
          sleep(300).then(() => false)
        ])
        pair.initiator.removeListener('drain', onDrain)
        if (!drained) break
      }
      // Wait while nothing is read: writable stays full, nothing piles up.
      await sleep(500)
      const { rssGrowth } = watch.stop()
      expect(written, 'bytes accepted before the writer was held back').to.be.below(64 * MiB)
      expect(received).to.equal(0)
      expect(rssGrowth).to.be.below(MEMORY_BOUND)
      // And the stall is only a stall: resuming delivers what was written.
      pair.responder.resume()
      await within((async () => { while (received < written) await sleep(10) })(), 10_000, 'the backlog')
    } finally {
      pair.close()
    }
  })

  it('through the Wires: 32 MiB of requested blocks to a Wire that processes slowly, memory flat, bytes intact', async () => {
    const pair = await wirePair({ initiator: { policy: 'required' } })
    try {
      await bittorrentHandshake(pair)
      const total = 32 * MiB
      const data = testData('wire backpressure', total)
      serveBlocks(pair.responder.wire, data)
      // A slow consumer: the receiving Wire takes 2 ms for every 256 KiB it is fed.
      const wire = pair.initiator.wire as any
      const write = wire._write.bind(wire)
      let fed = 0
      wire._write = (chunk: Uint8Array, cb: (err?: Error | null) => void) => {
        fed += chunk.length
        if (fed < 256 * 1024) return write(chunk, cb)
        fed = 0
        setTimeout(() => write(chunk, cb), 2)
      }
      const watch = new MemoryWatch()
      const got = await within(fetchBlocks(pair.initiator.wire, total, 64), 30_000, '32 MiB of blocks')
      const { rssGrowth, arrayBufferGrowth } = watch.stop()
      expect(sha256(got)).to.equal(sha256(data))
      // `got` and `data` (64 MiB together) are the test's own; the bound is on what the transfer added.
      expect(rssGrowth - total, 'rss growth beyond the received copy').to.be.below(MEMORY_BOUND)
      expect(arrayBufferGrowth - total, 'ArrayBuffer growth beyond the received copy').to.be.below(MEMORY_BOUND)
    } finally {
      pair.close()
    }
  })
})
