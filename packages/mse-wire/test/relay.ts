/**
 * A small TCP relay on 127.0.0.1 that sits between the two sockets of a test connection. Each direction
 * goes through a shaper that decides how the bytes are cut into writes (and so, on loopback with Nagle off,
 * into TCP segments and reads): re-chunked at random sizes, one byte per write, or coalesced. It also
 * keeps a copy of every byte each side sent, so a test can check what actually crossed the wire.
 *
 * `up` is initiator -> responder (the client that dialled the relay -> the target), `down` the reverse.
 */
import net from 'node:net'

const LOOPBACK = '127.0.0.1'

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
}

export interface Relay {
  port: number
  /** Every byte received from each side, in order (before shaping). */
  captured: { up: Buffer[], down: Buffer[] }
  /** Number of writes the relay made in each direction. */
  writes: { up: number, down: number }
  close (): void
}

const yieldToLoop = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

/** Relays one connection at a time to 127.0.0.1:targetPort. */
export async function startRelay (targetPort: number, options: RelayOptions = {}): Promise<Relay> {
  const sockets = new Set<net.Socket>()
  const captured = { up: [] as Buffer[], down: [] as Buffer[] }
  const writes = { up: 0, down: 0 }
  const server = net.createServer(client => {
    client.pause()
    client.setNoDelay(true)
    client.on('error', () => {})
    sockets.add(client)
    const target = net.connect(targetPort, LOOPBACK)
    target.setNoDelay(true)
    target.on('error', () => {})
    sockets.add(target)
    target.once('connect', () => {
      pump(client, target, (options.up ?? passthrough)(), captured.up, () => writes.up++)
      pump(target, client, (options.down ?? passthrough)(), captured.down, () => writes.down++)
      client.resume()
    })
  })
  await new Promise<void>(resolve => server.listen(0, LOOPBACK, resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    captured,
    writes,
    close () {
      server.close()
      for (const socket of sockets) socket.destroy()
    }
  }
}

function pump (from: net.Socket, to: net.Socket, shaper: Shaper, capture: Buffer[], counted: () => void): void {
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
    capture.push(Buffer.from(chunk))
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

/** A small seeded PRNG (mulberry32): the same seed gives the same cuts. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Cuts every chunk into pieces of 1..maxPiece bytes (seeded), one write each, yielding to the event loop
 * between writes so that the pieces leave as separate segments.
 */
export function rechunk (seed: number, maxPiece: number): ShaperFactory {
  return () => {
    const random = seededRandom(seed)
    return {
      async data (chunk, out) {
        for (let at = 0; at < chunk.length;) {
          const n = 1 + Math.floor(random() * maxPiece)
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
      for (let at = 0; at < all.length; at += maxBytes) void lastOut.write(all.subarray(at, at + maxBytes))
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
