import debugFactory from 'debug'
import { Duplex, isEnded } from 'streamx'
import {
  InitiatorHandshake, MseError, ResponderHandshake, parseEncryptionPolicy,
  type CryptoProvider, type EncryptionPolicy, type StreamCipher, type Role, type SessionOptions, type SkeyLookup
} from 'mse-core'
import { HandshakeDriver, PassthroughSession, type OpenedSession, type StreamSession } from './handshake-driver.js'
import { HeldWrites, type StreamCallback } from './held-writes.js'
import type { MseOutcome } from './outcome.js'
import type { LingerOptions, LingerPlan } from './probe-linger.js'
import { RawConnection, type RawSocket } from './raw-socket.js'
import { sharedTurnBudget, type TurnBudget } from './turn-budget.js'
import { sealBatch } from './write-batch.js'

const debug = debugFactory('mse:wire')
let nextConnectionId = 1

export interface MseStreamOptions {
  role: Role
  /** Default `preferred`. */
  policy?: EncryptionPolicy
  /** Initiator: the torrent to ask for (SKEY). */
  infoHash?: Uint8Array | string
  /** Responder: the torrents we serve. */
  skeys?: SkeyLookup
  /**
   * Initiator only: `mse` (default) runs the handshake; `plaintext` passes bytes through untouched (for a
   * peer known not to speak MSE). Refused under `required`; implied by `disabled`.
   */
  connect?: 'mse' | 'plaintext'
  /** Initiator: send the first 68 bytes written (the BitTorrent handshake) inside flight 3. Default true. */
  sendHandshakeAsInitialPayload?: boolean
  /** Responder: largest IA accepted (default 68). */
  maxInitialPayload?: number
  stageTimeoutMs?: SessionOptions['stageTimeoutMs']
  /**
   * With peers of this project: AES-128-CTR instead of RC4 (default true), negotiated inside the
   * authenticated PadC/PadD extension (docs/mse-extension.md). Other clients always get RC4.
   */
  aes?: boolean
  provider?: CryptoProvider
  /**
   * Whether chunks read from the raw socket are handed over to us, so the cipher may reuse them
   * (`processOwned`: in place for the JavaScript RC4, no copy back for OpenSSL's). True for a `net.Socket`,
   * whose chunks nobody else holds; false (never touching the chunk) is always safe. Default: true.
   */
  decryptInPlace?: boolean
  /** Readable and writable high-water marks (bytes). */
  highWaterMark?: number
  /**
   * Called synchronously with the outcome, before any payload is delivered to the reader (the 'handshake'
   * event and the promise come a microtask later). For bookkeeping that must precede the payload.
   */
  onOutcome?: (outcome: MseOutcome) => void
  /**
   * Responder: after a failed handshake, keep the connection open, reading and discarding, until the
   * failed stage would have timed out plus a random delay, so that a prober cannot tell from our close
   * where MSE gave up (docs/probe-resistance.md). `false` closes at once. Default: on, with default bounds.
   */
  linger?: LingerOptions | false
  /**
   * The loop-turn budget handshake work runs under (turn-budget.ts): past its slice of a turn, a handshake
   * step waits for a later turn, so that a burst of handshakes cannot stall the event loop. Default: the one
   * the whole process shares.
   */
  turnBudget?: TurnBudget
}

/**
 * No linger when the connection is already gone (or we are closing it ourselves), nor when we refuse the
 * other mode: under `disabled` (`encryption-refused`) an MSE initiator, and under `required`
 * (`plaintext-refused`, `no-common-method`) a plaintext one, retries in the other mode only once we hang
 * up promptly (libtorrent, Transmission, our own `preferred` and `tolerated`), as every client that refuses
 * a mode does. Nor on `negotiation-tampered`: only an on-path attacker, who knows it is MSE already, causes
 * it, and the peer (one of ours) must learn at once.
 */
const NO_LINGER_CODES = new Set(['peer-closed', 'aborted', 'encryption-refused', 'plaintext-refused', 'no-common-method', 'negotiation-tampered'])

type State = 'handshake' | 'open' | 'closed'

/**
 * An encrypted duplex over a raw connection. It runs the MSE handshake for its role and policy
 * (handshake-driver.ts), then carries the BitTorrent byte stream: reads are decrypted, writes encrypted,
 * or both passed through when plaintext was negotiated or dialled. Writes made during the handshake are
 * held (held-writes.ts) and the first 68 bytes ride inside flight 3 as IA; the raw socket's lifecycle is
 * in raw-socket.ts, the outcome's shape in outcome.ts.
 */
export class MseStream extends Duplex {
  readonly role: Role
  readonly policy: EncryptionPolicy
  /** Resolves once with the outcome; never rejects. */
  readonly handshake: Promise<MseOutcome>
  /** The outcome once known. */
  outcome: MseOutcome | undefined
  remoteAddress: string | undefined
  remotePort: number | undefined
  localAddress: string | undefined
  localPort: number | undefined

  private readonly raw: RawConnection
  private readonly id = nextConnectionId++
  private readonly session: StreamSession
  private readonly held = new HeldWrites()
  private readonly decryptInPlace: boolean
  private state: State = 'handshake'
  private encryptor: StreamCipher | undefined
  private decryptor: StreamCipher | undefined
  private pendingFinal: StreamCallback | undefined
  /** The raw socket delivered its end (we pushed null). */
  private rawEnded = false
  private settle!: (outcome: MseOutcome) => void
  private readonly onOutcome: ((outcome: MseOutcome) => void) | undefined
  private readonly lingerOptions: LingerOptions | false
  /** Set when a failed responder handshake hands the raw socket to the linger instead of closing it. */
  private lingerPlan: LingerPlan | undefined
  private readonly turnBudget: TurnBudget
  /**
   * Handshake chunks waiting for a slice of a later loop turn (turn-budget.ts), in arrival order. The socket
   * is paused meanwhile, so at most what it had already read waits here.
   */
  private parked: Uint8Array[] | undefined

  constructor (raw: RawSocket, options: MseStreamOptions) {
    super({ highWaterMark: options.highWaterMark })
    this.role = options.role
    this.policy = parseEncryptionPolicy(options.policy)
    this.decryptInPlace = options.decryptInPlace ?? true
    this.onOutcome = options.onOutcome
    this.lingerOptions = options.linger ?? {}
    this.turnBudget = options.turnBudget ?? sharedTurnBudget
    this.remoteAddress = raw.remoteAddress
    this.remotePort = raw.remotePort
    this.localAddress = raw.localAddress
    this.localPort = raw.localPort
    this.handshake = new Promise(resolve => { this.settle = resolve })

    const plaintextOut = this.role === 'initiator' && (options.connect === 'plaintext' || this.policy === 'disabled')
    if (plaintextOut && this.policy === 'required') {
      throw new TypeError('a plaintext connection is not allowed under policy "required"')
    }
    const events = {
      send: (bytes: Uint8Array) => { this.raw.write(bytes) },
      open: (opened: OpenedSession) => this.open(opened),
      fail: (error: MseError) => this.fail(error)
    }
    if (plaintextOut) {
      this.session = new PassthroughSession(this.role, events)
    } else {
      const common = { policy: this.policy, provider: options.provider, stageTimeoutMs: options.stageTimeoutMs, aes: options.aes }
      let handshake: InitiatorHandshake | ResponderHandshake
      if (this.role === 'initiator') {
        if (options.infoHash === undefined) throw new TypeError('an MSE initiator needs the infoHash')
        handshake = new InitiatorHandshake({ ...common, infoHash: options.infoHash })
      } else {
        if (!options.skeys) throw new TypeError('an MSE responder needs skeys (the torrents it serves)')
        handshake = new ResponderHandshake({ ...common, skeys: options.skeys, maxInitialPayload: options.maxInitialPayload })
      }
      this.session = new HandshakeDriver(handshake, events, {
        label: () => `#${this.id} ${this.role} ${this.remoteLabel}`,
        stageTimeoutMs: options.stageTimeoutMs,
        useInitialPayload: options.sendHandshakeAsInitialPayload ?? true,
        held: this.held
      })
      // Each write of a scattered flight leaves as its own segment rather than waiting for Nagle to merge
      // it with the next (libtorrent sets TCP_NODELAY on every peer connection too).
      raw.setNoDelay?.(true)
    }
    this.raw = new RawConnection(raw, { data: this.onRawData, end: this.onRawEnd, error: this.onRawError, close: this.onRawClose })

    // Guarded: every connection passes here, and the arguments are built even when debug is off.
    if (debug.enabled) debug('#%d %s %s: start (policy %s)', this.id, this.role, this.remoteLabel, this.policy)
    this.session.start()
  }

  /** Bytes read from the raw socket so far (handshake and payload, as on the wire). */
  get bytesReceived (): number {
    return this.raw.bytesReceived
  }

  /** Bytes written to the raw socket so far (handshake and payload, as on the wire). */
  get bytesSent (): number {
    return this.raw.bytesSent
  }

  /** True once the handshake succeeded and the stream carries payload. */
  get isOpen (): boolean {
    return this.state === 'open'
  }

  private get remoteLabel (): string {
    return this.remoteAddress ? `${this.remoteAddress}:${this.remotePort}` : 'peer'
  }

  // ---- raw socket -> us -----------------------------------------------------------------------------

  private readonly onRawData = (chunk: Uint8Array): void => {
    // A handshake step waits for its turn behind those already waiting, or past this turn's slice.
    if (this.state === 'handshake' && (this.parked !== undefined || !this.turnBudget.hasTime())) this.park(chunk)
    else this.take(chunk)
  }

  private take (chunk: Uint8Array): void {
    if (this.state === 'open') this.deliver(this.decryptor ? this.decrypt(chunk) : chunk)
    else if (this.state === 'handshake') this.session.receive(chunk)
  }

  private park (chunk: Uint8Array): void {
    if (this.parked === undefined) {
      this.parked = []
      this.raw.socket.pause()
      this.turnBudget.defer(this.unpark)
    }
    this.parked.push(chunk)
  }

  /** Our turn: the chunks that waited are taken in order, as they would have been on arrival. */
  private readonly unpark = (): void => {
    const chunks = this.parked
    this.parked = undefined
    if (chunks === undefined) return
    // Before the chunks: one may open the stream, and its reader's backpressure may pause the socket again.
    this.raw.socket.resume()
    for (const chunk of chunks) this.take(chunk)
  }

  /**
   * The socket's end, error or close comes after the chunks that preceded it: if any still wait, they are
   * taken first, now (a reset must be seen as the peer closing before webtorrent's own error listener
   * destroys the stream, raw-socket.ts).
   */
  private afterParked (): void {
    if (this.parked !== undefined) this.unpark()
  }

  private decrypt (chunk: Uint8Array): Uint8Array {
    return this.decryptInPlace ? this.decryptor!.processOwned(chunk) : this.decryptor!.process(chunk)
  }

  private deliver (plain: Uint8Array): void {
    if (plain.length === 0) return
    // Backpressure: stop reading the socket until our reader asks for more (`_read`).
    if (!this.push(plain)) this.raw.socket.pause()
  }

  override _read (callback: StreamCallback): void {
    if (this.state === 'open') this.raw.socket.resume()
    callback(null)
  }

  private readonly onRawEnd = (): void => {
    this.afterParked()
    if (this.state === 'handshake') this.session.peerClosed()
    else if (this.state === 'open') {
      this.rawEnded = true
      this.push(null)
    }
  }

  private readonly onRawError = (error: Error): void => {
    this.afterParked()
    debug('#%d socket error: %s', this.id, error.message)
    if (this.state === 'handshake') this.session.peerClosed()
    else this.destroy(error)
  }

  private readonly onRawClose = (): void => {
    this.afterParked()
    if (this.state === 'handshake') {
      this.session.peerClosed()
    } else if (!this.destroying && !this.destroyed) {
      // The peer ended cleanly: let the reader consume what is still buffered, and see 'end', first.
      if (this.rawEnded && !isEnded(this)) this.once('end', () => this.destroy())
      else this.destroy()
    }
  }

  // ---- handshake ends -------------------------------------------------------------------------------

  private open (opened: OpenedSession): void {
    this.state = 'open'
    this.encryptor = opened.encryptor
    this.decryptor = opened.decryptor
    this.report(opened.outcome)
    this.deliver(opened.payload)
    const held = this.held.release()
    if (held) {
      if (held.chunks.length > 0) this.writeRaw(held.chunks, held.callback)
      else held.callback(null)
    }
    if (this.pendingFinal) this._final(this.pendingFinal)
  }

  private fail (error: MseError): void {
    if (this.state !== 'handshake') return
    this.state = 'closed'
    this.planLinger(error)
    this.report(this.session.failure(error))
    this.destroy(error)
  }

  /** Responder: a failed handshake lingers (docs/probe-resistance.md) unless the code says otherwise. */
  private planLinger (error: MseError): void {
    if (this.role !== 'responder' || this.lingerOptions === false || NO_LINGER_CODES.has(error.code)) return
    this.lingerPlan = { ...this.session.failedStageDeadline(error), bytesRead: this.raw.bytesReceived }
  }

  private report (outcome: MseOutcome): void {
    this.outcome = outcome
    if (debug.enabled) {
      debug('#%d %s %s: %s', this.id, this.role, this.remoteLabel,
        outcome.ok ? `${outcome.method} (${outcome.handshakeBytesSent}/${outcome.handshakeBytesReceived} handshake bytes, IA ${outcome.initialPayloadLength}, ${outcome.durationMs} ms)` : `failed: ${outcome.error.message}${outcome.peerSentNoKey ? ' (the peer sent no key)' : ''}`)
    }
    this.onOutcome?.(outcome)
    this.settle(outcome)
    // Listeners may attach right after construction: report on the next tick.
    queueMicrotask(() => this.emit('handshake', outcome))
  }

  // ---- us -> raw socket -----------------------------------------------------------------------------

  /**
   * streamx hands over every write queued since the last call as one batch: encrypted as one keystream
   * run and written with one socket call (writev when corked), instead of a cipher call and a socket write
   * per message.
   */
  override _writev (batch: Uint8Array[], callback: StreamCallback): void {
    if (this.state === 'handshake') this.held.hold(batch, callback)
    else if (this.state === 'closed') callback(new Error('stream closed'))
    else this.writeRaw(batch, callback)
  }

  private writeRaw (chunks: Uint8Array[], callback: StreamCallback): void {
    // Never in place: the writer still owns the chunks (see Rc4's buffer contract).
    if (this.raw.writeAll(sealBatch(this.encryptor, chunks))) callback(null)
    else this.raw.afterDrain(callback)
  }

  override _final (callback: StreamCallback): void {
    if (this.state === 'handshake') {
      this.pendingFinal = callback
      return
    }
    this.pendingFinal = undefined
    this.raw.socket.end()
    callback(null)
  }

  /**
   * streamx runs _destroy only once no _write or _final is in flight, and ours can be parked (held during
   * the handshake, or waiting for 'drain'). Release them as soon as destroy() is called.
   */
  override _predestroy (): void {
    // Input still waiting for its turn is dropped with the connection (the queued turn finds nothing).
    this.parked = undefined
    this.session.stop()
    if (this.state === 'handshake') {
      this.state = 'closed'
      this.report(this.session.failure(new MseError('aborted', this.handshakeStage(), 'stream destroyed before the handshake completed')))
    }
    this.state = 'closed'
    const error = new Error('stream destroyed')
    this.held.fail(error)
    this.raw.abandonDrain(error)
    const final = this.pendingFinal
    this.pendingFinal = undefined
    final?.(error)
  }

  private handshakeStage (): MseError['stage'] {
    return this.session instanceof HandshakeDriver ? this.session.session.stage : 'start'
  }

  override _destroy (callback: StreamCallback): void {
    this.raw.release(this.lingerPlan && this.lingerOptions !== false ? { plan: this.lingerPlan, options: this.lingerOptions } : undefined)
    callback(null)
  }
}
