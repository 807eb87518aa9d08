/**
 * From a fuzz case to the bytes the peer sends and how they arrive. Encryption uses the reference RC4 and
 * SHA-1 (test-support's reference.ts) with the pool's known secret, so well-formed flights are valid for the key the
 * handshake under test actually holds.
 */
import { P, RefRc4, concat, fromBig, sha1, u16, u32, xor } from 'test-support'
import { bittorrentHandshake } from '../helpers/pair.js'
import { FUZZ_INFO_HASH, OTHER_INFO_HASH, type PoolEntry } from './pool.js'
import type { ByteSpec, Delivery, Flight3Shape, Flight4Shape, InitiatorCase, Mutation, Opening, ResponderCase } from './shapes.js'

const DEGENERATE_KEYS = [0n, 1n, P - 1n, P, P + 1n, (1n << 768n) - 1n]

/** Expands a ByteSpec: zeros for seed 0, else an xorshift32 stream. */
export function expand (spec: ByteSpec): Uint8Array {
  const out = new Uint8Array(spec.length)
  if (spec.seed === 0) return out
  let x = (spec.seed >>> 0) || 1
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x
    if (i + 1 < out.length) out[i + 1] = x >>> 8
    if (i + 2 < out.length) out[i + 2] = x >>> 16
    if (i + 3 < out.length) out[i + 3] = x >>> 24
  }
  return out
}

function flipBit (bytes: Uint8Array, bit: number): Uint8Array {
  if (bit >= 0) bytes[(bit >> 3) % bytes.length]! ^= 1 << (bit & 7)
  return bytes
}

function openingBytes (opening: Opening, entry: PoolEntry): Uint8Array {
  switch (opening.kind) {
    case 'key': return entry.peerKey
    case 'degenerate': return fromBig(DEGENERATE_KEYS[opening.which % DEGENERATE_KEYS.length]!)
    case 'plaintext': return concat(bittorrentHandshake(FUZZ_INFO_HASH), expand(opening.tail))
    case 'random': return expand(opening.bytes)
  }
}

/** The peer's bytes, and where its first flight (key and pad) ends. */
export interface PeerStream {
  bytes: Uint8Array
  firstFlightLength: number
}

function flight3Bytes (f: Flight3Shape, secret: Uint8Array): Uint8Array {
  const skey = f.skey === 'served' ? FUZZ_INFO_HASH : OTHER_INFO_HASH
  const rc4 = new RefRc4(sha1('keyA', secret, FUZZ_INFO_HASH), 1024)
  const padC = expand(f.padC)
  const ia = expand(f.ia)
  const header = concat(flipBit(new Uint8Array(8), f.vcFlip), u32(f.provide >>> 0), u16(f.padCLengthField ?? padC.length),
    padC, u16(f.iaLengthField ?? ia.length), ia)
  return concat(
    flipBit(sha1('req1', secret), f.req1Flip),
    xor(sha1('req2', skey), sha1('req3', secret)),
    rc4.crypt(header),
    rc4.crypt(expand(f.payload)))
}

function flight4Bytes (f: Flight4Shape, secret: Uint8Array): Uint8Array {
  const rc4 = new RefRc4(sha1('keyB', secret, FUZZ_INFO_HASH), 1024)
  const padD = expand(f.padD)
  return concat(
    rc4.crypt(concat(flipBit(new Uint8Array(8), f.vcFlip), u32(f.select >>> 0), u16(f.padDLengthField ?? padD.length), padD)),
    rc4.crypt(expand(f.payload)))
}

/** What an initiator sends to the responder under test. */
export function initiatorStream (c: ResponderCase, entry: PoolEntry): PeerStream {
  const first = concat(openingBytes(c.opening, entry), expand(c.pad))
  const rest = c.flight3 ? flight3Bytes(c.flight3, entry.secret) : new Uint8Array(0)
  return mutate(concat(first, rest), first.length, c.mutations)
}

/** What a responder sends to the initiator under test. */
export function responderStream (c: InitiatorCase, entry: PoolEntry): PeerStream {
  const first = concat(openingBytes(c.opening, entry), expand(c.pad))
  const rest = c.flight4 ? flight4Bytes(c.flight4, entry.secret) : new Uint8Array(0)
  return mutate(concat(first, rest), first.length, c.mutations)
}

function mutate (input: Uint8Array, firstFlightLength: number, mutations: Mutation[]): PeerStream {
  let bytes = input
  for (const m of mutations) {
    if (m.op === 'insert') {
      const at = m.at % (bytes.length + 1)
      bytes = concat(bytes.subarray(0, at), Uint8Array.of(m.value), bytes.subarray(at))
    } else if (m.op === 'truncate') {
      bytes = bytes.slice(0, m.at % (bytes.length + 1))
    } else if (bytes.length > 0) {
      const at = m.at % bytes.length
      if (m.op === 'xor') {
        bytes = bytes.slice()
        bytes[at]! ^= m.value
      } else {
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at + 1))
      }
    }
  }
  return { bytes, firstFlightLength: Math.min(firstFlightLength, bytes.length) }
}

/** Cuts the stream into the chunks that reach receive(), each with the clock advance before it. */
export function chunksOf (stream: PeerStream, delivery: Delivery): Array<{ bytes: Uint8Array, delay: number }> {
  const total = stream.bytes.length
  const cuts = new Set<number>()
  let at = 0
  for (const size of delivery.cuts) {
    at += size
    if (at < total) cuts.add(at)
  }
  if (delivery.cutAfterFirstFlight && stream.firstFlightLength > 0 && stream.firstFlightLength < total) cuts.add(stream.firstFlightLength)
  const bounds = [0, ...[...cuts].sort((a, b) => a - b), total]
  const chunks: Array<{ bytes: Uint8Array, delay: number }> = []
  for (let k = 0; k + 1 < bounds.length; k++) {
    if (bounds[k + 1]! > bounds[k]!) chunks.push({ bytes: stream.bytes.subarray(bounds[k], bounds[k + 1]), delay: delivery.delays[k] ?? 0 })
  }
  return chunks
}
