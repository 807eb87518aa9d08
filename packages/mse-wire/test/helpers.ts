import net from 'node:net'
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { OFFER_LENGTH, CONFIRM_LENGTH, MAX_PAD_LENGTH, SkeyRegistry, nodeCryptoProvider, type CryptoProvider, type EncryptionPolicy, type SkeyLookup } from 'mse-core'
import { MseStream, createEncryptedWire, type BittorrentWire, type EncryptedWire, type EncryptedWireOptions, type MseStreamOptions } from '../src/index.js'
import { startRelay, type Relay, type RelayOptions } from './relay.js'

export const LOOPBACK = '127.0.0.1'

/** The 20 bytes a plaintext BitTorrent connection starts with. */
export const PLAINTEXT_HEADER = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol')])

/** A TCP server on 127.0.0.1 with an ephemeral port; resolves with the server and its port. */
export async function listen (onConnection: (socket: net.Socket) => void): Promise<{ server: net.Server, port: number }> {
  const server = net.createServer(onConnection)
  await new Promise<void>(resolve => server.listen(0, LOOPBACK, resolve))
  return { server, port: (server.address() as net.AddressInfo).port }
}

export async function dial (port: number): Promise<net.Socket> {
  const socket = net.connect(port, LOOPBACK)
  await within(new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  }), 5000, `connect to ${LOOPBACK}:${port}`)
  return socket
}

// ---- bounded waiting ---------------------------------------------------------------------------------------

/** Rejects if `promise` has not settled within `ms`. Every wait in these tests goes through this. */
export async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves with the event's arguments, or rejects after `ms`. */
export async function nextEvent (emitter: EventEmitter | { once: (...args: any[]) => unknown, removeListener: (...args: any[]) => unknown }, event: string, ms: number): Promise<any[]> {
  let listener: ((...args: any[]) => void) | undefined
  try {
    return await within(new Promise<any[]>(resolve => {
      listener = (...args) => resolve(args)
      emitter.once(event, listener)
    }), ms, `'${event}'`)
  } finally {
    if (listener) emitter.removeListener(event, listener)
  }
}

/** Resolves once `stream` has emitted 'close' (immediately if it already has). */
export async function closed (stream: { destroyed: boolean, once: (event: 'close', listener: () => void) => unknown }, ms: number, what: string): Promise<void> {
  if (stream.destroyed) return
  await within(new Promise<void>(resolve => stream.once('close', resolve)), ms, `${what} to close`)
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

// ---- data ------------------------------------------------------------------------------------------------

/** `length` pseudo-random bytes determined by `seed` (AES-CTR keystream: fast enough for 64 MiB). */
export function testData (seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32))
  return cipher.update(Buffer.alloc(length))
}

export function sha256 (...parts: Uint8Array[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest('hex')
}

export function contains (haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle) !== -1
}

// ---- safety net ----------------------------------------------------------------------------------------

/**
 * Registers mocha hooks that fail the current test when an uncaught exception or an unhandled rejection
 * happens while it runs (on top of mocha's own handling, and without letting the process die).
 */
export function failOnUncaught (): void {
  let caught: unknown[] = []
  const onError = (error: unknown): void => { caught.push(error) }
  beforeEach(() => {
    caught = []
    process.prependListener('uncaughtException', onError)
    process.prependListener('unhandledRejection', onError)
  })
  afterEach(async () => {
    // Let late events of the test (closes, timers at 0) run before judging.
    await sleep(20)
    process.removeListener('uncaughtException', onError)
    process.removeListener('unhandledRejection', onError)
    if (caught.length > 0) {
      throw new Error(`uncaught during the test: ${caught.map(e => (e as Error)?.stack ?? String(e)).join('\n')}`)
    }
  })
}

// ---- two encrypted Wires ---------------------------------------------------------------------------------

export interface WirePair {
  initiator: EncryptedWire
  responder: EncryptedWire
  infoHash: string
  /** The raw sockets: `outgoing` is the initiator's, `incoming` the responder's. */
  sockets: { outgoing: net.Socket, incoming: net.Socket }
  relay?: Relay
  close (): void
}

export interface PairOptions {
  initiator?: Partial<EncryptedWireOptions> & { policy?: EncryptionPolicy }
  responder?: Partial<EncryptedWireOptions> & { policy?: EncryptionPolicy }
  infoHash?: string
  /** The responder's torrents; default: a registry holding `infoHash` only. */
  skeys?: SkeyLookup
  /** Put a relay (re-chunking, coalescing, capturing) between the two sockets. */
  relay?: RelayOptions
  /** Runs on the raw sockets before the Wires are attached (e.g. to record what each socket reads). */
  beforeWire?: (sockets: { outgoing: net.Socket, incoming: net.Socket }) => void
}

/** Two encrypted Wires over real TCP sockets on 127.0.0.1, one per role. */
export async function wirePair (options: PairOptions = {}): Promise<WirePair> {
  const infoHash = options.infoHash ?? randomBytes(20).toString('hex')
  let skeys = options.skeys
  if (!skeys) {
    const registry = new SkeyRegistry()
    registry.add(infoHash)
    skeys = registry
  }
  let accepted!: (socket: net.Socket) => void
  const acceptedSocket = new Promise<net.Socket>(resolve => { accepted = resolve })
  const { server, port } = await listen(socket => accepted(socket))
  const relay = options.relay ? await startRelay(port, options.relay) : undefined
  const outgoing = await dial(relay ? relay.port : port)
  const incoming = await within(acceptedSocket, 5000, 'the accepted socket')
  server.close()
  options.beforeWire?.({ outgoing, incoming })
  const initiator = createEncryptedWire(outgoing, { role: 'initiator', infoHash, ...options.initiator })
  const responder = createEncryptedWire(incoming, { role: 'responder', skeys, ...options.responder })
  return {
    initiator,
    responder,
    infoHash,
    sockets: { outgoing, incoming },
    relay,
    close () {
      initiator.stream.destroy()
      responder.stream.destroy()
      initiator.wire.destroy()
      responder.wire.destroy()
      outgoing.destroy()
      incoming.destroy()
      relay?.close()
    }
  }
}

/** Runs the BitTorrent handshake both ways; resolves with what each Wire received. */
export async function bittorrentHandshake (pair: WirePair, ms = 5000): Promise<{ initiatorSaw: string, responderSaw: string }> {
  const peerIdA = randomBytes(20).toString('hex')
  const peerIdB = randomBytes(20).toString('hex')
  const responderSaw = new Promise<string>(resolve => pair.responder.wire.once('handshake', (infoHash: any, peerId: any) => {
    pair.responder.wire.handshake(infoHash, peerIdB)
    resolve(`${infoHash}/${peerId === peerIdA}`)
  }))
  const initiatorSaw = new Promise<string>(resolve => pair.initiator.wire.once('handshake', (infoHash: any, peerId: any) => resolve(`${infoHash}/${peerId === peerIdB}`)))
  pair.initiator.wire.handshake(pair.infoHash, peerIdA)
  return {
    initiatorSaw: await within(initiatorSaw, ms, 'the initiator Wire to see the handshake'),
    responderSaw: await within(responderSaw, ms, 'the responder Wire to see the handshake')
  }
}

export const PIECE_LENGTH = 256 * 1024
export const BLOCK_LENGTH = 16 * 1024

/** Answers every request from `data` (piece index * PIECE_LENGTH + offset) and unchokes the peer. */
export function serveBlocks (wire: BittorrentWire, data: Uint8Array): void {
  wire.on('request', (index: any, offset: any, length: any, respond: any) => {
    const start = index * PIECE_LENGTH + offset
    respond(null, data.subarray(start, start + length))
  })
  wire.unchoke()
}

/** Requests `length` bytes block by block (a window of `window` requests in flight); resolves with them. */
export async function fetchBlocks (wire: BittorrentWire, length: number, window = 32): Promise<Buffer> {
  if (wire.peerChoking) await new Promise(resolve => wire.once('unchoke', resolve))
  const out = Buffer.alloc(length)
  let next = 0
  let outstanding = 0
  return await new Promise<Buffer>((resolve, reject) => {
    const pump = (): void => {
      while (outstanding < window && next < length) {
        const start = next
        const n = Math.min(BLOCK_LENGTH, length - start)
        next += n
        outstanding++
        wire.request(Math.floor(start / PIECE_LENGTH), start % PIECE_LENGTH, n, (err: Error | null, block: Uint8Array) => {
          outstanding--
          if (err) {
            reject(err)
            return
          }
          out.set(block, start)
          if (next >= length && outstanding === 0) resolve(out)
          else pump()
        })
      }
    }
    pump()
  })
}

/**
 * After the BitTorrent handshake: each side serves `bytesEachWay` bytes of its own data and fetches the
 * other's through request/piece messages, both ways at once. Resolves with the hashes to compare.
 */
export async function exchangeBlocks (pair: WirePair, bytesEachWay: number, ms = 15000): Promise<{ sent: [string, string], received: [string, string] }> {
  const fromInitiator = testData(`initiator:${pair.infoHash}`, bytesEachWay)
  const fromResponder = testData(`responder:${pair.infoHash}`, bytesEachWay)
  serveBlocks(pair.initiator.wire, fromInitiator)
  serveBlocks(pair.responder.wire, fromResponder)
  const [atResponder, atInitiator] = await within(Promise.all([
    fetchBlocks(pair.responder.wire, bytesEachWay),
    fetchBlocks(pair.initiator.wire, bytesEachWay)
  ]), ms, `${bytesEachWay} bytes each way through the Wires`)
  return {
    sent: [sha256(fromInitiator), sha256(fromResponder)],
    received: [sha256(atResponder), sha256(atInitiator)]
  }
}

// ---- two bare MseStreams ---------------------------------------------------------------------------------

export interface StreamPair {
  initiator: MseStream
  responder: MseStream
  infoHash: string
  sockets: { outgoing: net.Socket, incoming: net.Socket }
  close (): void
}

/** Two MseStreams (no Wire) over real TCP sockets on 127.0.0.1. Both get an 'error' listener. */
export async function streamPair (options: { initiator?: Partial<MseStreamOptions>, responder?: Partial<MseStreamOptions> } = {}): Promise<StreamPair> {
  const infoHash = randomBytes(20).toString('hex')
  const skeys = new SkeyRegistry()
  skeys.add(infoHash)
  let accepted!: (socket: net.Socket) => void
  const acceptedSocket = new Promise<net.Socket>(resolve => { accepted = resolve })
  const { server, port } = await listen(socket => accepted(socket))
  const outgoing = await dial(port)
  const incoming = await within(acceptedSocket, 5000, 'the accepted socket')
  server.close()
  const initiator = new MseStream(outgoing, { role: 'initiator', infoHash, ...options.initiator })
  const responder = new MseStream(incoming, { role: 'responder', skeys, ...options.responder })
  initiator.on('error', () => {})
  responder.on('error', () => {})
  return {
    initiator,
    responder,
    infoHash,
    sockets: { outgoing, incoming },
    close () {
      initiator.destroy()
      responder.destroy()
      outgoing.destroy()
      incoming.destroy()
    }
  }
}

/**
 * Marks a promise that the test awaits later: if the test fails before getting there, its rejection must
 * not surface as an unhandled rejection on top of the real failure.
 */
export function awaitedLater<T> (promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}

/**
 * The product's provider, except that every 16-bit draw (how mse-core draws pad lengths) lands in the
 * range where both blocks of the PadC/PadD extension fit. With uniform pads ~6% of connections between
 * two of our peers carry no extension and run RC4 (docs/mse-extension.md); tests that assert AES-128-CTR
 * over a socket pin the pads with this instead of depending on that chance.
 */
export const roomyPads: CryptoProvider = {
  ...nodeCryptoProvider,
  randomBytes (length) {
    const bytes = nodeCryptoProvider.randomBytes(length)
    if (length !== 2) return bytes
    const room = Math.max(OFFER_LENGTH, CONFIRM_LENGTH)
    const value = room + ((bytes[0]! << 8) | bytes[1]!) % (MAX_PAD_LENGTH + 1 - room)
    return Uint8Array.of(value >> 8, value & 0xff)
  }
}
