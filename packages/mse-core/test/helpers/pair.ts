/**
 * Drives an InitiatorHandshake and a ResponderHandshake against each other in memory, flight by flight,
 * with a pluggable chunking of each flight. Used by the transcript, split, policy and garbage tests.
 */
import {
  InitiatorHandshake, ResponderHandshake, SkeyRegistry, nodeCryptoProvider,
  type CryptoProvider, type EncryptionPolicy, type RandomSource, type HandshakeStep, type HandshakeResult, type SkeyLookup
} from '../../src/index.js'
import { createHash } from 'node:crypto'
import { concat, drbg, hex } from 'test-support'

export interface PairOptions {
  initiatorPolicy?: EncryptionPolicy
  responderPolicy?: EncryptionPolicy
  seedA?: string
  seedB?: string
  infoHash: Uint8Array
  ia?: Uint8Array
  provider?: CryptoProvider
  registry?: SkeyLookup
  maxInitialPayload?: number
  /** Appended to flight 3 in the same delivery (A's payload after IA, already in wire form). */
  afterFlight3?: Uint8Array
  /** Appended to flight 4 in the same delivery (B's payload after PadD, already in wire form). */
  afterFlight4?: Uint8Array
  /** This project's PadC/PadD extension on both sides (default: on, as in the product). */
  extension?: boolean
  /** Per-side session options on top of the above (e.g. `{ extension: false }` plays another client). */
  initiatorOptions?: { extension?: boolean, aes?: boolean, random?: RandomSource }
  responderOptions?: { extension?: boolean, aes?: boolean, random?: RandomSource }
  /** Replaces flight 3 / flight 4 before delivery (mutation tests). */
  mutateFlight3?: (bytes: Uint8Array) => Uint8Array
  mutateFlight4?: (bytes: Uint8Array) => Uint8Array
}

/** How a flight (1..4) is cut into receive() calls. */
export type Chunker = (flight: number, bytes: Uint8Array) => Uint8Array[]

export const whole: Chunker = (_flight, bytes) => [bytes]

export function splitAt (flightNo: number, position: number): Chunker {
  return (flight, bytes) => flight === flightNo ? [bytes.subarray(0, position), bytes.subarray(position)] : [bytes]
}

export const byteByByte: Chunker = (_flight, bytes) => Array.from(bytes, (_b, k) => bytes.subarray(k, k + 1))

export interface PairRun {
  initiator: InitiatorHandshake
  responder: ResponderHandshake
  /** Bytes each side sent for flights 1..4 (index 0 unused), as produced, before mutation. */
  flights: Uint8Array[]
  a: HandshakeStep
  b: HandshakeStep
  /** Payload bytes that reached a side in chunks after its handshake was done, decrypted by the caller. */
  lateA: Uint8Array
  lateB: Uint8Array
}

export function makeRegistry (infoHash: Uint8Array, provider: CryptoProvider = nodeCryptoProvider): SkeyRegistry {
  const registry = new SkeyRegistry(provider)
  registry.add(infoHash)
  return registry
}

interface Delivery { step: HandshakeStep, sent: Uint8Array, late: Uint8Array }

/**
 * Feeds chunks until the handshake ends. Chunks that arrive after it is done are payload the caller now
 * owns: they are decrypted with the result's decryptor (or taken as is) and returned as `late`.
 */
function deliver (side: { receive: (d: Uint8Array, now: number) => HandshakeStep }, chunks: Uint8Array[], now: number): Delivery {
  const sent: Uint8Array[] = []
  const late: Uint8Array[] = []
  let step: HandshakeStep = { status: 'pending', send: new Uint8Array(0) }
  for (const chunk of chunks) {
    if (step.status === 'done') {
      late.push(step.result.decryptor ? step.result.decryptor.process(chunk) : chunk)
      continue
    }
    if (step.status === 'failed') break
    step = side.receive(chunk, now)
    sent.push(step.send)
  }
  return { step, sent: concat(...sent), late: concat(...late) }
}

export function makePair (options: PairOptions): { initiator: InitiatorHandshake, responder: ResponderHandshake } {
  const provider = options.provider ?? nodeCryptoProvider
  const initiator = new InitiatorHandshake({
    policy: options.initiatorPolicy ?? 'preferred',
    provider,
    random: drbg(options.seedA ?? 'A'),
    infoHash: options.infoHash,
    initialPayload: options.ia,
    extension: options.extension,
    ...options.initiatorOptions
  })
  const responder = new ResponderHandshake({
    policy: options.responderPolicy ?? 'preferred',
    provider,
    random: drbg(options.seedB ?? 'B'),
    skeys: options.registry ?? makeRegistry(options.infoHash, provider),
    maxInitialPayload: options.maxInitialPayload,
    extension: options.extension,
    ...options.responderOptions
  })
  return { initiator, responder }
}

export function runPair (options: PairOptions, chunker: Chunker = whole): PairRun {
  const { initiator, responder } = makePair(options)
  const flights: Uint8Array[] = [new Uint8Array(0)]
  let now = 0
  let a = initiator.start(now)
  let b = responder.start(now)
  flights[1] = a.send
  let lateA: Uint8Array = new Uint8Array(0)
  let lateB: Uint8Array = new Uint8Array(0)
  const result = (): PairRun => ({ initiator, responder, flights, a, b, lateA, lateB })
  if (a.status !== 'pending' || b.status !== 'pending') return result()

  let r = deliver(responder, chunker(1, flights[1]!), ++now)
  b = r.step
  flights[2] = r.sent
  if (b.status !== 'pending') return result()

  r = deliver(initiator, chunker(2, flights[2]!), ++now)
  a = r.step
  flights[3] = r.sent
  if (a.status !== 'pending') return result()

  let f3 = flights[3]!
  if (options.mutateFlight3) f3 = options.mutateFlight3(f3)
  if (options.afterFlight3) f3 = concat(f3, options.afterFlight3)
  r = deliver(responder, chunker(3, f3), ++now)
  b = r.step
  lateB = r.late
  flights[4] = r.sent
  if (b.status === 'failed' || flights[4]!.length === 0) return result()

  let f4 = flights[4]!
  if (options.mutateFlight4) f4 = options.mutateFlight4(f4)
  if (options.afterFlight4) f4 = concat(f4, options.afterFlight4)
  r = deliver(initiator, chunker(4, f4), ++now)
  a = r.step
  lateA = r.late
  return result()
}

/** The comparable part of a result (Rc4 objects are compared through the bytes they produce). */
export function summary (result: HandshakeResult | undefined): Record<string, unknown> | undefined {
  if (!result) return undefined
  return {
    role: result.role,
    method: result.method,
    infoHash: result.infoHash ? hex(result.infoHash) : undefined,
    cryptoProvide: result.cryptoProvide,
    cryptoSelect: result.cryptoSelect,
    payload: hex(result.payload),
    initialPayloadLength: result.initialPayloadLength,
    handshakeBytesSent: result.handshakeBytesSent,
    handshakeBytesReceived: result.handshakeBytesReceived,
    // 16 bytes of each continued stream, from clones so the live streams stay untouched.
    encryptor: result.encryptor ? hex(result.encryptor.clone().process(new Uint8Array(16))) : undefined,
    decryptor: result.decryptor ? hex(result.decryptor.clone().process(new Uint8Array(16))) : undefined
  }
}

export function stepSummary (step: HandshakeStep, late?: Uint8Array): Record<string, unknown> {
  if (step.status === 'done') {
    const result = summary(step.result)!
    // Payload in the result plus what arrived later: the application sees one stream either way.
    if (late) result.payload = hex(concat(step.result.payload, late))
    return { status: 'done', result }
  }
  if (step.status === 'failed') return { status: 'failed', code: step.error.code }
  return { status: 'pending' }
}

/** The 68-byte plaintext BitTorrent handshake: 19, "BitTorrent protocol", 8 reserved, info hash, peer id. */
export function bittorrentHandshake (infoHash: Uint8Array, peerId = '-MS0001-abcdefghijkl'): Uint8Array {
  const out = new Uint8Array(68)
  out[0] = 19
  out.set(Buffer.from('BitTorrent protocol', 'latin1'), 1)
  out[25] = 0x10 // extension protocol bit, like real clients
  out.set(infoHash.subarray(0, 20), 28)
  out.set(Buffer.from(peerId, 'latin1'), 48)
  return out
}

/** A made-up 20-byte info hash for a name. */
export function infoHashOf (name: string): Uint8Array {
  return new Uint8Array(createHash('sha1').update('torrent:' + name).digest())
}
