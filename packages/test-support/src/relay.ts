/**
 * A TCP relay on 127.0.0.1 that sits between the two ends of test connections and records every byte each
 * side sent, per connection and per direction: what a capture on the wire would show. Each direction goes
 * through a shaper that decides how the bytes are cut into writes (and so, on loopback with Nagle off,
 * into TCP segments and reads): as they come, re-chunked at random sizes, one byte per write, or coalesced.
 * It can also reset the first connections as an on-path attacker would.
 *
 * `up` is dialler -> target (the side that dialled the relay), `down` the reverse.
 */
import net from 'node:net'
import { LOOPBACK, PLAINTEXT_HEADER } from './net.js'
import { prng } from './random.js'

export interface RelayOutput {
  /** Writes to the far socket; resolves once the socket can take more (never rejects, never hangs). */
  write (bytes: Uint8Array): Promise<void>
}

export interface Shaper {
  /** Called for each chunk, in order; the next chunk waits until the returned promise settles. */
  data (chunk: Buffer, out: RelayOutput): void | Promise<void>
  /** Called when the source ended, before the far side is ended: flush anything held back. */
  end? (out: RelayOutput): void | Promise<void>
}

export type ShaperFactory = () => Shaper

export interface RelayOptions {
  up?: ShaperFactory
  down?: ShaperFactory
  /**
   * The first N connections are reset (TCP RST) as soon as the dialler sends its first bytes, before
   * anything reaches the target: an on-path downgrade attempt against MSE.
   */
  resetFirst?: number
}

export interface RelayedConnection {
  /** Bytes from the dialling side to the target, as received (before shaping). */
  up: Buffer[]
  /** Bytes from the target back to the dialling side. */
  down: Buffer[]
  closed: boolean
}

export interface Relay {
  port: number
  /** `127.0.0.1:port`, to hand to a client as a peer address. */
  address: string
  /** One record per accepted connection, in order. */
  connections: RelayedConnection[]
  /** Every byte received from each side over all connections, in order (before shaping). */
  captured: { up: Buffer[], down: Buffer[] }
  /** Number of writes the relay made in each direction. */
  writes: { up: number, down: number }
  upBytes (i: number): Buffer
  downBytes (i: number): Buffer
  /** Whether any connection, in either direction, carried a plaintext BitTorrent handshake header. */
  sawPlaintextHeader (): boolean
  /** Destroys every relayed socket and stops listening. */
  close (): Promise<void>
}

const yieldToLoop = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

/** Relays every connection it accepts to 127.0.0.1:targetPort. */
export async function startRelay (targetPort: number, options: RelayOptions = {}): Promise<Relay> {
  const sockets = new Set<net.Socket>()
  const connections: RelayedConnection[] = []
  const captured = { up: [] as Buffer[], down: [] as Buffer[] }
  const writes = { up: 0, down: 0 }
  const track = (socket: net.Socket): void => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  }
  const server = net.createServer(client => {
    const record: RelayedConnection = { up: [], down: [], closed: false }
    connections.push(record)
    track(client)
    if (connections.length <= (options.resetFirst ?? 0)) {
      client.once('data', chunk => {
        record.up.push(Buffer.from(chunk))
        captured.up.push(Buffer.from(chunk))
        record.closed = true
        client.resetAndDestroy()
      })
      return
    }
    client.pause()
    client.setNoDelay(true)
    const target = net.connect(targetPort, LOOPBACK)
    target.setNoDelay(true)
    track(target)
    for (const socket of [client, target]) socket.once('close', () => { record.closed = true })
    let connected = false
    target.once('connect', () => {
      connected = true
      pump(client, target, (options.up ?? passthrough)(), [record.up, captured.up], () => writes.up++)
      pump(target, client, (options.down ?? passthrough)(), [record.down, captured.down], () => writes.down++)
      client.resume()
    })
    // A target that refuses or fails before connecting: the dialler sees its connection close.
    target.once('close', () => { if (!connected) client.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, LOOPBACK, resolve))
  const port = (server.address() as net.AddressInfo).port
  const upBytes = (i: number): Buffer => Buffer.concat(connections[i]!.up)
  const downBytes = (i: number): Buffer => Buffer.concat(connections[i]!.down)
  return {
    port,
    address: `${LOOPBACK}:${port}`,
    connections,
    captured,
    writes,
    upBytes,
    downBytes,
    sawPlaintextHeader () {
      return connections.some((_c, i) => upBytes(i).includes(PLAINTEXT_HEADER) || downBytes(i).includes(PLAINTEXT_HEADER))
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/**
 * Copies `from` to `to` through `shaper`, one chunk at a time, recording each chunk into every list of
 * `captures`; pauses `from` while more than 1 MiB waits for the shaper. An end is passed on after the
 * shaper flushed; a close without an end destroys the far side.
 */
function pump (from: net.Socket, to: net.Socket, shaper: Shaper, captures: Buffer[][], counted: () => void): void {
  let chain = Promise.resolve()
  let queued = 0
  const out: RelayOutput = {
    async write (bytes) {
      if (to.destroyed || to.writableEnded) return
      counted()
      if (to.write(bytes)) return
      await new Promise<void>(resolve => {
        const done = (): void => {
          to.removeListener('drain', done)
          to.removeListener('close', done)
          resolve()
        }
        to.once('drain', done)
        to.once('close', done)
      })
    }
  }
  const enqueue = (step: () => void | Promise<void>): void => {
    chain = chain.then(step).catch(() => { to.destroy() })
  }
  from.on('data', (chunk: Buffer) => {
    for (const capture of captures) capture.push(Buffer.from(chunk))
    queued += chunk.length
    if (queued > (1 << 20)) from.pause()
    enqueue(async () => {
      await shaper.data(chunk, out)
      queued -= chunk.length
      if (queued <= (256 << 10) && from.isPaused()) from.resume()
    })
  })
  from.on('end', () => enqueue(async () => {
    await shaper.end?.(out)
    to.end()
  }))
  from.on('close', () => enqueue(() => {
    if (!to.writableEnded) to.destroy()
  }))
}

// ---- shapers ---------------------------------------------------------------------------------------------

export const passthrough: ShaperFactory = () => ({
  async data (chunk, out) { await out.write(chunk) }
})

/**
 * Cuts every chunk into pieces of 1..maxPiece bytes (seeded: the same seed gives the same cuts), one write
 * each, yielding to the event loop between writes so that the pieces leave as separate segments.
 */
export function rechunk (seed: number, maxPiece: number): ShaperFactory {
  return () => {
    const random = prng(`rechunk ${seed}`)
    return {
      async data (chunk, out) {
        for (let at = 0; at < chunk.length;) {
          const n = 1 + random.int(maxPiece)
          await out.write(chunk.subarray(at, at + n))
          at += n
          await yieldToLoop()
        }
      }
    }
  }
}

/**
 * The first `limit` bytes one byte per write (every boundary inside the handshake flights is a segment
 * boundary), then the rest as it comes.
 */
export function byteByByte (limit: number): ShaperFactory {
  return () => {
    let sent = 0
    return {
      async data (chunk, out) {
        let at = 0
        while (at < chunk.length && sent < limit) {
          await out.write(chunk.subarray(at, at + 1))
          at++
          sent++
          await yieldToLoop()
        }
        if (at < chunk.length) await out.write(chunk.subarray(at))
      }
    }
  }
}

/**
 * Holds bytes back until the source has been quiet for `idleMs` (or `maxBytes` are held), then sends them
 * in one write: a flight and everything the peer wrote right after it reach the other side together.
 */
export function coalesce (idleMs: number, maxBytes: number): ShaperFactory {
  return () => {
    let held: Buffer[] = []
    let heldBytes = 0
    let timer: NodeJS.Timeout | undefined
    let lastOut: RelayOutput | undefined
    const flush = (): void => {
      clearTimeout(timer)
      timer = undefined
      if (heldBytes === 0 || !lastOut) return
      const all = Buffer.concat(held)
      held = []
      heldBytes = 0
      for (let at = 0; at < all.length; at += maxBytes) lastOut.write(all.subarray(at, at + maxBytes)).catch(() => {})
    }
    return {
      data (chunk, out) {
        lastOut = out
        held.push(chunk)
        heldBytes += chunk.length
        if (heldBytes >= maxBytes) {
          flush()
          return
        }
        clearTimeout(timer)
        timer = setTimeout(flush, idleMs)
      },
      end () { flush() }
    }
  }
}
