/**
 * Backpressure end to end: a slow reader must slow the writer down through the stream, the socket and the
 * peer's stream, not pile bytes up in memory. 64 MiB go through; the bytes buffered along the way (in
 * each stream's queues and each socket's buffers, sampled all along) must stay within a bound far below what
 * went through; every byte must arrive. (What this costs in process memory is a figure, not a test:
 * scripts/bench measures it.)
 */
import { expect } from 'chai'
import { createHash } from 'node:crypto'
import type net from 'node:net'
import type { EncryptionPolicy } from 'mse-core'
import { fetchBlocks, bittorrentHandshake, roomyPads, serveBlocks, streamPair, wirePair } from './helpers.js'
import { awaitedLater, failOnUncaught, seededBytes, sha256, until, within } from 'test-support'

const MiB = 1024 * 1024
/** Far below the 32-64 MiB each test moves, far above the few high-water marks a connection may hold. */
const BUFFER_BOUND = 8 * MiB

/** A streamx stream (MseStream, bittorrent-protocol's Wire): the bytes waiting in its two queues. */
interface StreamxQueues { _writableState: { buffered: number }, _readableState: { buffered: number } }

const queued = (stream: unknown): number => {
  const s = stream as StreamxQueues
  return s._writableState.buffered + s._readableState.buffered
}

const socketBuffered = (socket: net.Socket): number => socket.writableLength + socket.readableLength

/** Samples `buffered()` every 20 ms (and on demand) and keeps the peak. */
class BufferWatch {
  peak = 0
  private readonly timer: NodeJS.Timeout

  constructor (private readonly buffered: () => number) {
    this.sample()
    this.timer = setInterval(() => this.sample(), 20)
  }

  sample (): void {
    this.peak = Math.max(this.peak, this.buffered())
  }

  stop (): number {
    this.sample()
    clearInterval(this.timer)
    return this.peak
  }
}

/** Everything buffered between two MseStreams: both streams' queues and both sockets' buffers. */
function pairBuffered (pair: { initiator: unknown, responder: unknown, sockets: { outgoing: net.Socket, incoming: net.Socket } }): () => number {
  return () => queued(pair.initiator) + queued(pair.responder) + socketBuffered(pair.sockets.outgoing) + socketBuffered(pair.sockets.incoming)
}

/**
 * After write() returned false: resolves true on the stream's next 'drain', false once the socket under it
 * needs draining as well (the backpressure reached the socket: nothing drains while the peer reads nothing).
 */
async function drainOrHeldBack (stream: { once: (e: 'drain', f: () => void) => unknown, removeListener: (e: 'drain', f: () => void) => unknown }, socket: net.Socket): Promise<boolean> {
  let onDrain!: () => void
  let timer: NodeJS.Timeout | undefined
  try {
    return await within(new Promise<boolean>(resolve => {
      onDrain = () => resolve(true)
      stream.once('drain', onDrain)
      const check = (): void => { if (socket.writableNeedDrain) resolve(false) }
      timer = setInterval(check, 5)
    }), 10_000, "'drain' or a full socket")
  } finally {
    clearInterval(timer)
    stream.removeListener('drain', onDrain)
  }
}

/** Chunk i of the test stream: a slice of a 4 MiB pattern, stamped with i so that no two chunks are equal. */
function makeChunker (chunkSize: number): (i: number) => Buffer {
  const pattern = seededBytes(4 * MiB, 'backpressure')
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
        const watch = new BufferWatch(pairBuffered(pair))
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
        const peak = watch.stop()
        expect(received).to.equal(total)
        expect(receivedHash.digest('hex')).to.equal(sentHash.digest('hex'))
        expect(peak, `peak bytes buffered ${(peak / MiB).toFixed(1)} MiB`).to.be.below(BUFFER_BOUND)
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
      const watch = new BufferWatch(pairBuffered(pair))
      for (let i = 0; i < (96 * MiB) / (64 * 1024); i++) pair.initiator.write(chunk(i))
      expect(watch.stop()).to.be.above(BUFFER_BOUND)
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
      const watch = new BufferWatch(pairBuffered(pair))
      // Write as long as the stream keeps draining; once the socket under it is full too, the writer is held back.
      for (;;) {
        const more = pair.initiator.write(chunk(i++))
        written += 64 * 1024
        if (written > 256 * MiB) break
        if (more) continue
        if (!await drainOrHeldBack(pair.initiator, pair.sockets.outgoing)) break
      }
      const peak = watch.stop()
      expect(written, 'bytes accepted before the writer was held back').to.be.below(64 * MiB)
      expect(received).to.equal(0)
      expect(peak).to.be.below(BUFFER_BOUND)
      // And the stall is only a stall: resuming delivers what was written.
      pair.responder.resume()
      await until(() => received >= written, 10_000, 'the backlog')
    } finally {
      pair.close()
    }
  })

  it('through the Wires: 32 MiB of requested blocks to a Wire that processes slowly, memory flat, bytes intact', async () => {
    const pair = await wirePair({ initiator: { policy: 'required' } })
    try {
      await bittorrentHandshake(pair)
      const total = 32 * MiB
      const data = seededBytes(total, 'wire backpressure')
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
      const streams = pairBuffered({ initiator: pair.initiator.stream, responder: pair.responder.stream, sockets: pair.sockets })
      const watch = new BufferWatch(() => streams() + queued(pair.initiator.wire) + queued(pair.responder.wire))
      const got = await within(fetchBlocks(pair.initiator.wire, total, 64), 30_000, '32 MiB of blocks')
      const peak = watch.stop()
      expect(sha256(got)).to.equal(sha256(data))
      // `got` and `data` are the test's own; the bound is on what the transfer holds between the two Wires.
      expect(peak, `peak bytes buffered ${(peak / MiB).toFixed(1)} MiB`).to.be.below(BUFFER_BOUND)
    } finally {
      pair.close()
    }
  })
})
