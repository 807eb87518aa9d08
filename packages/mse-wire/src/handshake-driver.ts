import debugFactory from 'debug'
import {
  DEFAULT_STAGE_TIMEOUT_MS, InitiatorHandshake, ResponderHandshake, toHex,
  type HandshakeResult, type HandshakeStage, type HandshakeStep, type MseError, type Role, type SessionOptions, type StreamCipher
} from 'mse-core'
import { scatterFlight } from './flight-scatter.js'
import type { HeldWrites } from './held-writes.js'
import type { MseFailure, MseSuccess } from './outcome.js'

const debug = debugFactory('mse:wire')

/** What a session hands the stream when payload may flow. */
export interface OpenedSession {
  /** Encrypts our payload; none when the payload is plaintext. */
  encryptor?: StreamCipher
  /** Decrypts the peer's payload; none when the payload is plaintext. */
  decryptor?: StreamCipher
  /** The peer's payload already received (decrypted), to deliver first. */
  payload: Uint8Array
  outcome: MseSuccess
}

export interface SessionEvents {
  /** Handshake bytes to put on the wire now. */
  send: (bytes: Uint8Array) => void
  open: (opened: OpenedSession) => void
  fail: (error: MseError) => void
}

/** What runs on a connection before payload flows: the MSE handshake, or nothing (a plaintext dial). */
export interface StreamSession {
  start: () => void
  receive: (chunk: Uint8Array) => void
  /** The raw socket ended, reset or closed. */
  peerClosed: () => void
  /** No more steps (done, failed or destroyed): the stage timer is cleared. */
  stop: () => void
  /** The outcome of a failure with `error` at this point. */
  failure: (error: MseError) => MseFailure
  /**
   * Responder, failed: when the failed stage would have timed out had the offending bytes never come, and
   * that stage's timeout (the linger's schedule, docs/probe-resistance.md).
   */
  failedStageDeadline: (error: MseError) => { stageDeadline: number, stageTimeoutMs: number }
}

/**
 * A plaintext dial (`connect: 'plaintext'`, or policy `disabled`): no handshake, the bytes pass through
 * both ways from the start.
 */
export class PassthroughSession implements StreamSession {
  private readonly role: Role
  private readonly events: SessionEvents

  constructor (role: Role, events: SessionEvents) {
    this.role = role
    this.events = events
  }

  start (): void {
    this.events.open({
      payload: new Uint8Array(0),
      outcome: { ok: true, role: this.role, method: 'plaintext', handshakeBytesSent: 0, handshakeBytesReceived: 0, initialPayloadLength: 0, durationMs: 0, peerExtension: false }
    })
  }

  receive (): void {}
  peerClosed (): void {}
  stop (): void {}

  failure (error: MseError): MseFailure {
    return { ok: false, role: this.role, error, failedStage: error.stage as HandshakeStage, peerSentNoKey: false, handshakeBytesSent: 0, handshakeBytesReceived: 0, initialPayloadLength: 0, durationMs: 0, peerExtension: false }
  }

  failedStageDeadline (): { stageDeadline: number, stageTimeoutMs: number } {
    return { stageDeadline: Date.now(), stageTimeoutMs: 0 }
  }
}

export interface HandshakeDriverOptions {
  /** For debug lines: which connection (built only when a line is written). */
  label: () => string
  stageTimeoutMs: SessionOptions['stageTimeoutMs']
  /** Initiator: offer the held BitTorrent handshake as IA (default true). */
  useInitialPayload: boolean
  held: HeldWrites
}

/**
 * Runs mse-core's sans-IO handshake on a connection: feeds it the bytes and the time, sends its flights
 * (scattered into a few writes, flight-scatter.ts), arms a timer for its stage deadline, and hands over the
 * ciphers or the error. The initiator takes the held BitTorrent handshake as IA when it is there in time.
 */
export class HandshakeDriver implements StreamSession {
  readonly session: InitiatorHandshake | ResponderHandshake
  private readonly events: SessionEvents
  private readonly options: HandshakeDriverOptions
  private readonly startedAt = Date.now()
  private running = true
  private timer: ReturnType<typeof setTimeout> | undefined
  /** The stage whose timer is armed, and when it fires: where a failed handshake would have timed out. */
  private armedStage: HandshakeStage | undefined
  private armedDeadline: number | undefined

  constructor (session: InitiatorHandshake | ResponderHandshake, events: SessionEvents, options: HandshakeDriverOptions) {
    this.session = session
    this.events = events
    this.options = options
  }

  start (): void {
    this.afterStep(this.session.start(Date.now()))
  }

  receive (chunk: Uint8Array): void {
    if (!this.running) return
    this.offerInitialPayload()
    this.afterStep(this.session.receive(chunk, Date.now()))
  }

  peerClosed (): void {
    if (this.running) this.afterStep(this.session.peerClosed())
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
  }

  failure (error: MseError): MseFailure {
    const received = this.session.bytesReceived
    return {
      ok: false,
      role: this.session.role,
      handshakeBytesSent: this.session.bytesSent,
      handshakeBytesReceived: received,
      initialPayloadLength: 0,
      durationMs: Date.now() - this.startedAt,
      error,
      failedStage: error.stage as HandshakeStage,
      peerSentNoKey: (error.code === 'peer-closed' && received === 0) || error.code === 'plaintext-reply',
      secretHasLeadingZero: this.session.secretHasLeadingZero,
      // Only a peer running our extension can prove tampering: it speaks MSE.
      peerExtension: error.code === 'negotiation-tampered'
    }
  }

  failedStageDeadline (error: MseError): { stageDeadline: number, stageTimeoutMs: number } {
    const stage = error.stage as HandshakeStage
    const option = this.options.stageTimeoutMs
    const stageTimeoutMs = typeof option === 'number' ? option : option?.[stage] ?? DEFAULT_STAGE_TIMEOUT_MS
    // A stage entered by the same chunk that failed it started now; a timeout failure is at its deadline.
    const stageDeadline = stage === this.armedStage && this.armedDeadline !== undefined ? this.armedDeadline : Date.now() + stageTimeoutMs
    return { stageDeadline, stageTimeoutMs }
  }

  private afterStep (step: HandshakeStep): void {
    // A flight leaves in a few writes of random sizes (flight-scatter.ts): no fixed-size first packets.
    if (step.send.length > 0) for (const piece of scatterFlight(step.send)) this.events.send(piece)
    if (step.status === 'failed') {
      this.stop()
      this.events.fail(step.error)
    } else if (step.status === 'done') {
      this.stop()
      this.events.open(this.opened(step.result))
    } else {
      this.armTimer()
    }
  }

  private opened (result: HandshakeResult): OpenedSession {
    return {
      encryptor: result.encryptor,
      decryptor: result.decryptor,
      payload: result.payload,
      outcome: {
        ok: true,
        role: result.role,
        method: result.method,
        infoHash: result.infoHash ? toHex(result.infoHash) : undefined,
        handshakeBytesSent: result.handshakeBytesSent,
        handshakeBytesReceived: result.handshakeBytesReceived,
        initialPayloadLength: result.initialPayloadLength,
        durationMs: Date.now() - this.startedAt,
        secretHasLeadingZero: this.session.secretHasLeadingZero,
        peerHashedUnpaddedSecret: result.peerHashedUnpaddedSecret,
        peerExtension: result.peerExtension
      }
    }
  }

  private armTimer (): void {
    clearTimeout(this.timer)
    const deadline = this.session.deadline
    if (deadline === undefined) return
    if (this.session.stage !== this.armedStage && debug.enabled) debug('%s: stage %s', this.options.label(), this.session.stage)
    this.armedStage = this.session.stage
    this.armedDeadline = deadline
    this.timer = setTimeout(() => {
      if (!this.running) return
      const step = this.session.expire(Date.now())
      if (step) this.afterStep(step)
      else this.armTimer()
    }, Math.max(0, deadline - Date.now()))
    this.timer.unref?.()
  }

  /**
   * Initiator: if the writer has already written the BitTorrent handshake, hand its 68 bytes to the
   * session as IA, saving the round trip upstream pays. Only possible until flight 3 goes out.
   */
  private offerInitialPayload (): void {
    if (!(this.session instanceof InitiatorHandshake) || !this.options.useInitialPayload || this.session.stage !== 'peer-key') return
    const head = this.options.held.bittorrentHandshake()
    if (head && this.session.setInitialPayload(head)) this.options.held.take(head.length)
  }
}
