/** mse-wire's own test fixtures (Wire and stream pairs over loopback, block exchange); the generic helpers are in test-support. */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { OFFER_LENGTH, CONFIRM_LENGTH, MAX_PAD_LENGTH, SkeyRegistry, nodeCryptoProvider, type CryptoProvider, type EncryptionPolicy, type SkeyLookup } from 'mse-core'
import { MseStream, createEncryptedWire, type BittorrentWire, type EncryptedWire, type EncryptedWireOptions, type MseStreamOptions } from '../src/index.js'
import { dial, listen, seededBytes, sha256, startRelay, within, type Relay, type RelayOptions } from 'test-support'

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
      relay?.close().catch(() => {})
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
  const fromInitiator = seededBytes(bytesEachWay, `initiator:${pair.infoHash}`)
  const fromResponder = seededBytes(bytesEachWay, `responder:${pair.infoHash}`)
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
