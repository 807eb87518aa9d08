/**
 * What the fuzzer generates: a structured description of the bytes one side sends (its key, its pad, its
 * later flight field by field), byte-level mutations on top, and how the bytes are cut and timed on
 * delivery. Descriptions are plain JSON, so a failing input is stored in test-fixtures/ as is and replayed
 * by a regular test. The arbitraries (fast-check) lean towards well-formed handshakes, so most inputs reach
 * the later stages, and each field sometimes takes an out-of-spec value.
 */
import fc from 'fast-check'
import type { EncryptionPolicy } from '../../src/index.js'

/** Bytes given by a length and a seed (seed 0: zero bytes), expanded by a small PRNG: cheap to shrink. */
export interface ByteSpec { length: number, seed: number }

export type Opening =
  | { kind: 'key' }
  /** 0, 1, P-1, P, P+1, 2^768-1 (index modulo 6). */
  | { kind: 'degenerate', which: number }
  /** A plaintext BitTorrent handshake, then `tail`. */
  | { kind: 'plaintext', tail: ByteSpec }
  | { kind: 'random', bytes: ByteSpec }

export interface Mutation { at: number, op: 'xor' | 'insert' | 'delete' | 'truncate', value: number }

export interface Delivery {
  /** Chunk sizes, in order; what remains arrives as one last chunk. */
  cuts: number[]
  /** Also cut where the first flight ends, as a real peer does while it waits for our key. */
  cutAfterFirstFlight: boolean
  /** Milliseconds added to the clock before each chunk (0 for chunks past the list). */
  delays: number[]
  /** After the last chunk: nothing, the peer closes, a timer fires long after, or bytes arrive after the end. */
  end: 'none' | 'close' | 'expire' | 'late-bytes'
}

/** Flight 3, as an initiator sends it. -1 / null mean "as the spec says". */
export interface Flight3Shape {
  /** Bit of HASH('req1', S) to flip. */
  req1Flip: number
  skey: 'served' | 'other'
  /** Bit of VC to flip before encryption. */
  vcFlip: number
  provide: number
  padC: ByteSpec
  padCLengthField: number | null
  ia: ByteSpec
  iaLengthField: number | null
  /** Payload after IA, encrypted as an RC4 peer would. */
  payload: ByteSpec
}

/** Flight 4, as a responder sends it. */
export interface Flight4Shape {
  vcFlip: number
  select: number
  padD: ByteSpec
  padDLengthField: number | null
  payload: ByteSpec
}

/** Input for a ResponderHandshake: what an initiator sends. */
export interface ResponderCase {
  policy: EncryptionPolicy
  maxInitialPayload: number
  /** Index into the responder key pool (modulo its size). */
  pool: number
  opening: Opening
  /** PadA. */
  pad: ByteSpec
  flight3: Flight3Shape | null
  mutations: Mutation[]
  delivery: Delivery
}

/** Input for an InitiatorHandshake: what a responder sends. */
export interface InitiatorCase {
  policy: 'required' | 'preferred' | 'tolerated'
  /** Send the 68-byte BitTorrent handshake as IA (else IA is empty). */
  initialPayload: boolean
  pool: number
  opening: Opening
  /** PadB. */
  pad: ByteSpec
  flight4: Flight4Shape | null
  mutations: Mutation[]
  delivery: Delivery
}

export type Role = 'initiator' | 'responder'
export type FuzzCase = ResponderCase | InitiatorCase

// ---- arbitraries --------------------------------------------------------------------------------------------

const byteSpec = (min: number, max: number): fc.Arbitrary<ByteSpec> =>
  fc.record({ length: fc.integer({ min, max }), seed: fc.nat() })

/** Pads: 0..512 as the spec allows, sometimes longer. */
const pad = fc.oneof({ weight: 9, arbitrary: byteSpec(0, 512) }, { weight: 1, arbitrary: byteSpec(513, 700) })
const zeroPad = fc.oneof(
  { weight: 6, arbitrary: fc.record({ length: fc.integer({ min: 0, max: 512 }), seed: fc.constant(0) }) },
  { weight: 2, arbitrary: byteSpec(0, 512) },
  { weight: 1, arbitrary: byteSpec(513, 600) })
const flip = (bits: number): fc.Arbitrary<number> =>
  fc.oneof({ weight: 14, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(bits - 1) })
const lengthField = fc.oneof({ weight: 14, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) })
/** crypto_provide / crypto_select: the usual values, reserved bits, anything. */
const methodBits = (usual: number[]): fc.Arbitrary<number> => fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...usual) },
  { weight: 2, arbitrary: fc.constantFrom(0, 3, 4, 6, 0x0102, 0x80000002) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) })

const opening: fc.Arbitrary<Opening> = fc.oneof(
  { weight: 16, arbitrary: fc.record({ kind: fc.constant('key' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('degenerate' as const), which: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('plaintext' as const), tail: byteSpec(0, 120) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: byteSpec(1, 700) }) })

const mutations: fc.Arbitrary<Mutation[]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Mutation[]>([]) },
  {
    weight: 1,
    arbitrary: fc.array(fc.record({
      at: fc.nat(1400),
      op: fc.constantFrom('xor' as const, 'insert' as const, 'delete' as const, 'truncate' as const),
      value: fc.integer({ min: 1, max: 255 })
    }), { minLength: 1, maxLength: 4 })
  })

const delivery: fc.Arbitrary<Delivery> = fc.record({
  cuts: fc.oneof(
    { weight: 2, arbitrary: fc.constant<number[]>([]) },
    { weight: 3, arbitrary: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 8 }) },
    { weight: 1, arbitrary: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 40 }) }),
  cutAfterFirstFlight: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  delays: fc.array(fc.oneof(
    { weight: 20, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 2000 }) },
    { weight: 1, arbitrary: fc.constantFrom(29_999, 30_000, 60_000) }), { maxLength: 8 }),
  end: fc.constantFrom('none' as const, 'close' as const, 'expire' as const, 'late-bytes' as const)
})

/** IA: empty or the 68-byte handshake mostly, sometimes another length. */
const initialPayload = fc.oneof(
  { weight: 6, arbitrary: fc.record({ length: fc.constantFrom(0, 68), seed: fc.nat() }) },
  { weight: 1, arbitrary: byteSpec(0, 100) })

const flight3: fc.Arbitrary<Flight3Shape> = fc.record({
  req1Flip: flip(160),
  skey: fc.oneof({ weight: 14, arbitrary: fc.constant('served' as const) }, { weight: 1, arbitrary: fc.constant('other' as const) }),
  vcFlip: flip(64),
  provide: methodBits([1, 2, 3]),
  padC: zeroPad,
  padCLengthField: lengthField,
  ia: initialPayload,
  iaLengthField: lengthField,
  payload: byteSpec(0, 200)
})

const flight4: fc.Arbitrary<Flight4Shape> = fc.record({
  vcFlip: flip(64),
  select: methodBits([1, 2]),
  padD: zeroPad,
  padDLengthField: lengthField,
  payload: byteSpec(0, 200)
})

export const responderCase: fc.Arbitrary<ResponderCase> = fc.record({
  policy: fc.oneof(
    { weight: 15, arbitrary: fc.constantFrom('required' as const, 'preferred' as const, 'tolerated' as const) },
    { weight: 1, arbitrary: fc.constant('disabled' as const) }),
  maxInitialPayload: fc.oneof({ weight: 8, arbitrary: fc.constant(68) }, { weight: 1, arbitrary: fc.constantFrom(0, 0xffff) }),
  pool: fc.nat(63),
  opening,
  pad,
  flight3: fc.option(flight3, { freq: 12, nil: null }),
  mutations,
  delivery
})

export const initiatorCase: fc.Arbitrary<InitiatorCase> = fc.record({
  policy: fc.constantFrom('required' as const, 'preferred' as const, 'tolerated' as const),
  initialPayload: fc.boolean(),
  pool: fc.nat(63),
  opening,
  pad,
  flight4: fc.option(flight4, { freq: 12, nil: null }),
  mutations,
  delivery
})

export function arbitraryFor (role: Role): fc.Arbitrary<FuzzCase> {
  return role === 'initiator' ? initiatorCase : responderCase
}
