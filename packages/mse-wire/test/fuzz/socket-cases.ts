/**
 * Fuzz cases for MseStream over real TCP sockets on 127.0.0.1, as plain JSON (fast-check generates them):
 * - `pair`: two MseStreams, any two policies, payload both ways written in random pieces, each side ending
 *   after writing or after reading everything, and one fault on one side's raw socket once it has received
 *   some bytes: end, destroy or reset (RST);
 * - `raw-initiator` / `raw-responder`: one MseStream against a scripted raw peer that plays the other role
 *   with mse-core's fuzz cases (a valid key, then mutated later flights, built for the real shared secret),
 *   written in random pieces with pauses, and ending with an end, a destroy or a reset.
 */
import fc from 'fast-check'
import type { EncryptionPolicy } from 'mse-core'
import { initiatorCase, responderCase, type ByteSpec, type InitiatorCase, type ResponderCase } from '../../../mse-core/test/fuzz/shapes.js'

export type Ending = 'end' | 'destroy' | 'reset'

export interface Fault {
  side: 'initiator' | 'responder'
  kind: 'none' | Ending
  /** Raw bytes that side has received when the fault strikes. */
  afterBytes: number
}

export interface Writes {
  /** Sizes of successive writes (the rest in one last write). */
  sizes: number[]
  /** Let the event loop turn (setImmediate) between writes, so they travel as separate segments. */
  pause: boolean
}

export type SocketCase =
  | {
    scenario: 'pair'
    initiatorPolicy: EncryptionPolicy
    responderPolicy: EncryptionPolicy
    aToB: ByteSpec
    bToA: ByteSpec
    writes: Writes
    /**
     * When each side ends its stream: once it has written everything (a half-close: the other side's later
     * writes then fail, as on any socket without allowHalfOpen), or once it has also read everything the other
     * side writes (then, without a fault, all data must arrive). Absent: `written`.
     */
    endAfter?: 'written' | 'received'
    fault: Fault
  }
  | { scenario: 'raw-initiator', peer: ResponderCase, writes: Writes, ending: Ending }
  | { scenario: 'raw-responder', initiatorPolicy: 'required' | 'preferred' | 'tolerated', peer: InitiatorCase, writes: Writes, ending: Ending }

const policy = fc.constantFrom<EncryptionPolicy>('required', 'preferred', 'tolerated', 'disabled')
const ending = fc.constantFrom<Ending>('end', 'destroy', 'reset')
const writes: fc.Arbitrary<Writes> = fc.record({
  sizes: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }),
  pause: fc.boolean()
})

const pair: fc.Arbitrary<SocketCase> = fc.record({
  scenario: fc.constant('pair' as const),
  initiatorPolicy: policy,
  responderPolicy: policy,
  aToB: fc.record({ length: fc.integer({ min: 0, max: 40_000 }), seed: fc.integer({ min: 1, max: 0xffffffff }) }),
  bToA: fc.record({ length: fc.integer({ min: 0, max: 40_000 }), seed: fc.integer({ min: 1, max: 0xffffffff }) }),
  writes,
  endAfter: fc.constantFrom('written' as const, 'received' as const, 'received' as const),
  fault: fc.oneof(
    { weight: 1, arbitrary: fc.record({ side: fc.constant('initiator' as const), kind: fc.constant('none' as const), afterBytes: fc.constant(0) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        side: fc.constantFrom('initiator' as const, 'responder' as const),
        kind: ending,
        afterBytes: fc.oneof(fc.integer({ min: 0, max: 1400 }), fc.integer({ min: 0, max: 50_000 }))
      })
    })
})

const rawInitiator: fc.Arbitrary<SocketCase> = fc.record({
  scenario: fc.constant('raw-initiator' as const),
  peer: responderCase,
  writes,
  ending
})

const rawResponder: fc.Arbitrary<SocketCase> = fc.record({
  scenario: fc.constant('raw-responder' as const),
  initiatorPolicy: fc.constantFrom('required' as const, 'preferred' as const, 'tolerated' as const),
  peer: initiatorCase,
  writes,
  ending
})

export const socketCase: fc.Arbitrary<SocketCase> = fc.oneof(pair, rawInitiator, rawResponder)
