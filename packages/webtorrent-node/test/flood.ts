/**
 * One connection of a handshake flood, as a cheap attacker makes it: from a chosen local (loopback)
 * address, a valid random 96-byte MSE key plus junk PadA (the responder must answer with its key: both DH
 * exponentiations), then, once answered, more junk that can never contain HASH('req1', S), so the responder
 * gives up at the end of its 628-byte sync window. The attacker does no DH work at all. Used by the budget
 * tests and by scripts/bench/flood.ts.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { isValidPeerKey } from 'mse-core'

/** A uniformly random 96-byte value in [2, P-2]: a key the responder must answer with a DH exchange. */
export function randomPeerKey (): Buffer {
  for (;;) {
    const key = randomBytes(96)
    // A leading 19 would look like a plaintext BitTorrent handshake: keep every key on the DH path.
    if (key[0] !== 19 && isValidPeerKey(key)) return key
  }
}

export interface FloodConnectionResult {
  /** The responder sent something back (its key: it did DH work for us). */
  answered: boolean
  /** Bytes the responder sent (0 when it refused the connection unread). */
  bytesReceived: number
  /** The TCP connection failed to open (e.g. the listen backlog was full). */
  connectFailed: boolean
}

export interface FloodConnectionOptions {
  port: number
  host?: string
  /** The local address to dial from (any 127.x.y.z works on Linux loopback). */
  localAddress?: string
  /** Junk PadA after the key (default 256; at most 512, or the responder refuses before its DH work). */
  junkBytes?: number
  /** Give up after this long, in case the responder keeps the connection (default 60 s). */
  maxMs?: number
}

/** Opens one flood connection and resolves when it is closed. Never rejects. */
export async function floodConnection (options: FloodConnectionOptions): Promise<FloodConnectionResult> {
  return await new Promise(resolve => {
    let bytesReceived = 0
    let connected = false
    const socket = net.connect({ port: options.port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress })
    const timer = setTimeout(() => socket.destroy(), options.maxMs ?? 60_000)
    socket.on('error', () => {})
    socket.on('connect', () => {
      connected = true
      socket.write(Buffer.concat([randomPeerKey(), randomBytes(Math.min(512, options.junkBytes ?? 256))]))
    })
    socket.on('data', chunk => {
      // Past the 628-byte window (96 + 512 + 20) whatever PadA was: the responder's sync search fails.
      // Then hang up: the responder would linger until its stage timeout (docs/probe-resistance.md), and
      // a flooder does not wait for that.
      if (bytesReceived === 0) socket.end(randomBytes(628))
      bytesReceived += chunk.length
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ answered: bytesReceived > 0, bytesReceived, connectFailed: !connected })
    })
  })
}
