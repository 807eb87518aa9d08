/**
 * Runs one fuzz case against the real handshake class, through its public API only (bytes and time in,
 * steps out), and checks every step: no exception escapes, every failure is a typed MseError (never
 * `internal-error`, which means something threw inside), the receive buffer stays within the stage's bound,
 * output stays within the spec's sizes, a success is what the peer's bytes say (oracle.ts), and a case
 * that is a well-formed handshake delivered in time does succeed.
 *
 * The buffer is read from the session's private `pending` field: the one white-box probe, which fails
 * loudly if the field goes away.
 */
import {
  InitiatorHandshake, KEY_LENGTH, MAX_BYTES_BEFORE_KEY_REPLY, MAX_PAD_LENGTH, ResponderHandshake, isMseError,
  type HandshakeStep
} from '../../src/index.js'
import { concat } from 'test-support'
import { bittorrentHandshake } from '../helpers/pair.js'
import { chunksOf, expand, initiatorStream, responderStream } from './encode.js'
import {
  Violation, bufferBound, check, checkInitiatorSuccess, checkResponderSuccess, expectedProvide, expectedSelect, sendBound
} from './oracle.js'
import { FUZZ_INFO_HASH, FUZZ_REGISTRY, keyPool, randomFor } from './pool.js'
import type { Delivery, FuzzCase, InitiatorCase, ResponderCase, Role } from './shapes.js'

export interface CaseOutcome {
  /** `done:<method>`, `failed:<code>` or `pending:<stage>`. */
  outcome: string
  /** Largest receive buffer seen between calls. */
  maxBuffered: number
  /** The same per stage (and per maxInitialPayload when not the default), for the report. */
  maxBufferedByStage: Record<string, number>
  /** The case was a well-formed handshake delivered in time (and so had to succeed). */
  wellFormed: boolean
}

/** A stage deadline is 30 s (the spec's rule for the key, used for every stage). */
const STAGE_TIMEOUT_MS = 30_000
const LATE_BYTES = expand({ length: 16, seed: 99 })

type Session = InitiatorHandshake | ResponderHandshake

/** Drives one session and checks each step it returns. */
class Drive {
  now = 0
  step: HandshakeStep = { status: 'pending', send: new Uint8Array(0) }
  maxBuffered = 0
  readonly maxBufferedByStage: Record<string, number> = {}
  private readonly sent: Uint8Array[] = []
  private readonly delivered: Uint8Array[] = []

  constructor (readonly session: Session, readonly role: Role, readonly maxInitialPayload: number) {}

  /** The last step (a method, so TypeScript does not keep narrowing it across calls). */
  current (): HandshakeStep {
    return this.step
  }

  get ended (): boolean {
    return this.step.status !== 'pending'
  }

  sentBytes (): Uint8Array {
    return concat(...this.sent)
  }

  deliveredBytes (): Uint8Array {
    return concat(...this.delivered)
  }

  call (what: string, action: () => HandshakeStep | undefined): HandshakeStep | undefined {
    let step: HandshakeStep | undefined
    try {
      step = action()
    } catch (err) {
      throw new Violation(`${what} threw: ${(err as Error)?.stack ?? String(err)}`)
    }
    if (step === undefined) return undefined
    check(typeof step === 'object' && step.send instanceof Uint8Array, `${what} returned ${String(step)}`)
    if (step.status === 'failed') {
      check(isMseError(step.error), `${what} failed with an untyped error: ${String(step.error)}`)
      check(typeof step.error.code === 'string' && typeof step.error.stage === 'string', `${what}: error without code or stage`)
      check(step.error.code !== 'internal-error', `${what}: something threw inside the handshake: ${step.error.message}`)
    } else if (step.status === 'done') {
      check(step.result.payload instanceof Uint8Array, `${what}: done without a payload array`)
    } else {
      check(step.status === 'pending', `${what}: unknown status ${String((step as { status: unknown }).status)}`)
    }
    this.sent.push(step.send)
    this.observeBuffer(what)
    return step
  }

  private observeBuffer (what: string): void {
    const pending: unknown = Reflect.get(this.session, 'pending')
    check(pending instanceof Uint8Array, 'cannot observe the handshake buffer: field "pending" is gone (update run-case.ts)')
    const bound = this.session.finished ? 0 : bufferBound(this.role, this.session.stage, this.maxInitialPayload)
    check(pending.length <= bound, `${what}: ${pending.length} bytes buffered in stage ${this.session.stage}, bound ${bound}`)
    if (pending.length > this.maxBuffered) this.maxBuffered = pending.length
    if (this.session.finished) return
    const key = stageKey(this.session.stage, this.role, this.maxInitialPayload)
    if (pending.length > (this.maxBufferedByStage[key] ?? -1)) this.maxBufferedByStage[key] = pending.length
  }

  feed (chunks: Array<{ bytes: Uint8Array, delay: number }>): void {
    for (const chunk of chunks) {
      if (this.ended) break
      this.now += chunk.delay
      this.step = this.call('receive()', () => this.session.receive(chunk.bytes, this.now))!
      this.delivered.push(chunk.bytes)
    }
  }

  finish (end: Delivery['end']): void {
    const before = this.step
    if (end === 'close') {
      const step = this.call('peerClosed()', () => this.session.peerClosed())!
      if (before.status === 'pending') check(step.status === 'failed' && step.error.code === 'peer-closed', `peerClosed() while pending gave ${outcomeOf(step, this.session)}`)
      else check(step.status === before.status, `peerClosed() after ${before.status} gave ${step.status}`)
      if (before.status === 'pending') this.step = step
    } else if (end === 'expire') {
      const step = this.call('expire()', () => this.session.expire(this.now + 10 * STAGE_TIMEOUT_MS))
      if (before.status === 'pending') {
        check(step?.status === 'failed' && step.error.code === 'deadline-exceeded', 'expire() long after the deadline did not fail the handshake')
        this.step = step
      } else {
        check(step === undefined, 'expire() after the end reported a step')
      }
    } else if (end === 'late-bytes') {
      const step = this.call('receive() at the end', () => this.session.receive(LATE_BYTES, this.now))!
      if (before.status !== 'pending') {
        check(step.status === 'failed' && step.error.code === 'handshake-finished', `receive() after the end gave ${outcomeOf(step, this.session)}`)
      } else {
        this.step = step
        this.delivered.push(LATE_BYTES)
      }
    }
    check(this.sentBytes().length <= sendBound(this.role), `sent ${this.sentBytes().length} bytes during the handshake, bound ${sendBound(this.role)}`)
    check(this.session.finished === (this.step.status !== 'pending'), `finished is ${this.session.finished} with status ${this.step.status}`)
  }
}

/** `sync`, or `crypto-header (maxInitialPayload 65535)` when the responder's IA bound is not the default. */
export function stageKey (stage: string, role: Role, maxInitialPayload: number): string {
  return role === 'responder' && stage === 'crypto-header' && maxInitialPayload !== 68 ? `${stage} (maxInitialPayload ${maxInitialPayload})` : stage
}

function outcomeOf (step: HandshakeStep, session: Session): string {
  if (step.status === 'done') return `done:${step.result.method}`
  if (step.status === 'failed') return `failed:${step.error.code}`
  return `pending:${session.stage}`
}

/**
 * Whether the peer's key arrived within the bytes it may send before our reply: the chunk that completes
 * the 96 key bytes must not bring the total past 96 + 512.
 */
function keyArrivesInBound (chunks: Array<{ bytes: Uint8Array }>): boolean {
  let total = 0
  for (const chunk of chunks) {
    total += chunk.bytes.length
    if (total >= KEY_LENGTH) return total <= MAX_BYTES_BEFORE_KEY_REPLY
  }
  return false
}

function inTime (chunks: Array<{ delay: number }>): boolean {
  return chunks.reduce((sum, c) => sum + c.delay, 0) < STAGE_TIMEOUT_MS
}

function runResponder (c: ResponderCase): CaseOutcome {
  const pool = keyPool('responder')
  const entry = pool[c.pool % pool.length]!
  const session = new ResponderHandshake({ policy: c.policy, skeys: FUZZ_REGISTRY, random: randomFor(entry), maxInitialPayload: c.maxInitialPayload })
  const chunks = chunksOf(initiatorStream(c, entry), c.delivery)
  const drive = new Drive(session, 'responder', c.maxInitialPayload)
  drive.step = drive.call('start()', () => session.start(0))!
  check(drive.step.status === 'pending' && drive.step.send.length === 0, 'a responder spoke first')
  drive.feed(chunks)
  drive.finish(c.delivery.end)

  const sent = drive.sentBytes()
  if (sent.length >= KEY_LENGTH && Buffer.compare(sent.subarray(0, KEY_LENGTH), entry.ownKey) !== 0) {
    throw new Error('fuzz harness: the responder\'s key differs from its pool entry (random source not deterministic?)')
  }
  const f = c.flight3
  const wellFormed = c.policy !== 'disabled' && c.opening.kind === 'key' && c.pad.length <= MAX_PAD_LENGTH && f !== null &&
    f.req1Flip < 0 && f.skey === 'served' && f.vcFlip < 0 && expectedSelect(c.policy, f.provide >>> 0) !== undefined &&
    f.padC.length <= MAX_PAD_LENGTH && (f.padCLengthField ?? f.padC.length) === f.padC.length &&
    f.ia.length <= c.maxInitialPayload && (f.iaLengthField ?? f.ia.length) === f.ia.length &&
    c.mutations.length === 0 && keyArrivesInBound(chunks) && inTime(chunks)
  const step = drive.current()
  if (step.status === 'done') checkResponderSuccess(step.result, drive.deliveredBytes(), sent, c.policy, c.maxInitialPayload, entry)
  if (wellFormed) check(step.status === 'done', `a well-formed handshake ended ${outcomeOf(step, session)}`)
  return { outcome: outcomeOf(step, session), maxBuffered: drive.maxBuffered, maxBufferedByStage: drive.maxBufferedByStage, wellFormed }
}

function runInitiator (c: InitiatorCase): CaseOutcome {
  const pool = keyPool('initiator')
  const entry = pool[c.pool % pool.length]!
  const ia = c.initialPayload ? bittorrentHandshake(FUZZ_INFO_HASH) : new Uint8Array(0)
  const session = new InitiatorHandshake({ policy: c.policy, infoHash: FUZZ_INFO_HASH, random: randomFor(entry), initialPayload: ia })
  const chunks = chunksOf(responderStream(c, entry), c.delivery)
  const drive = new Drive(session, 'initiator', 0)
  drive.step = drive.call('start()', () => session.start(0))!
  const flight1 = drive.step.send
  check(drive.step.status === 'pending' && flight1.length >= KEY_LENGTH && flight1.length <= KEY_LENGTH + MAX_PAD_LENGTH,
    `start() sent ${flight1.length} bytes`)
  if (Buffer.compare(flight1.subarray(0, KEY_LENGTH), entry.ownKey) !== 0) {
    throw new Error('fuzz harness: the initiator\'s key differs from its pool entry (random source not deterministic?)')
  }
  drive.feed(chunks)
  drive.finish(c.delivery.end)

  const f = c.flight4
  const select = f ? f.select >>> 0 : 0
  const wellFormed = c.opening.kind === 'key' && c.pad.length <= MAX_PAD_LENGTH && f !== null && f.vcFlip < 0 &&
    (select === 1 || select === 2) && (select & expectedProvide(c.policy)) !== 0 &&
    f.padD.length <= MAX_PAD_LENGTH && (f.padDLengthField ?? f.padD.length) === f.padD.length &&
    c.mutations.length === 0 && keyArrivesInBound(chunks) && inTime(chunks)
  const step = drive.current()
  if (step.status === 'done') checkInitiatorSuccess(step.result, drive.deliveredBytes(), drive.sentBytes(), flight1.length, c.policy, ia, entry)
  if (wellFormed) check(step.status === 'done', `a well-formed handshake ended ${outcomeOf(step, session)}`)
  return { outcome: outcomeOf(step, session), maxBuffered: drive.maxBuffered, maxBufferedByStage: drive.maxBufferedByStage, wellFormed }
}

/** Runs a case for the role under test. Throws a Violation when the handshake breaks an invariant. */
export function runCase (role: Role, c: FuzzCase): CaseOutcome {
  return role === 'initiator' ? runInitiator(c as InitiatorCase) : runResponder(c as ResponderCase)
}
