import debugFactory from 'debug'
import { Duplex, isEnded } from 'streamx'

type StreamCallback = (error: Error | null) => void
import {
  DEFAULT_STAGE_TIMEOUT_MS, InitiatorHandshake, MseError, PLAINTEXT_PROTOCOL_HEADER, BITTORRENT_HANDSHAKE_LENGTH,
  ResponderHandshake, parseEncryptionPolicy, toHex,
  type CryptoProvider, type EncryptionPolicy, type HandshakeResult, type HandshakeStage, type HandshakeStep,
  type StreamCipher, type Role, type SessionOptions, type SkeyLookup
} from 'mse-core'
import { scatterFlight } from './flight-scatter.js'
import { sealBatch } from './write-batch.js'
import type { MseOutcome } from './outcome.js'
import { lingerThenClose, type LingerOptions, type LingerPlan } from './probe-linger.js'
import type { RawSocket } from './raw-socket.js'

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

/** One batch of writes (streamx `_writev`) and its callback, held until the handshake ends. */
interface HeldWrite {
  chunks: Uint8Array[]
  callback: StreamCallback
}

type State = 'handshake' | 'open' | 'closed'

/**
 * An encrypted duplex over a raw connection. It runs the MSE handshake for its role and policy, then
 * carries the BitTorrent byte stream: reads are decrypted, writes encrypted, or both passed through when
 * plaintext was negotiated or detected. Writes made during the handshake are held (their callbacks too,
 * so the writer feels backpressure) and the first 68 bytes ride inside flight 3 as IA.
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

  private readonly raw: RawSocket
  private readonly id = nextConnectionId++
  private readonly session: InitiatorHandshake | ResponderHandshake | undefined
  private readonly decryptInPlace: boolean
  private readonly startedAt = Date.now()
  private readonly useInitialPayload: boolean
  private state: State = 'handshake'
  private rawBytesReceived = 0
  private rawBytesSent = 0
  private encryptor: StreamCipher | undefined
  private decryptor: StreamCipher | undefined
  private held: HeldWrite[] = []
  private heldBytes = 0
  /** Held bytes that already went out as IA and must not be sent again. */
  private initialPayloadTaken = 0
  private pendingFinal: (StreamCallback) | undefined
  /** The raw socket is corked until the end of this tick (corkForThisTick). */
  private rawCorked = false
  /** A write parked until the raw socket emits 'drain'. */
  private pendingDrain: StreamCallback | undefined
  /** The raw socket delivered its end (we pushed null). */
  private rawEnded = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private settle!: (outcome: MseOutcome) => void
  private readonly onOutcome: ((outcome: MseOutcome) => void) | undefined
  private readonly stageTimeoutMs: SessionOptions['stageTimeoutMs']
  private readonly lingerOptions: LingerOptions | false
  /** The stage whose timer is armed, and when it fires: where a failed handshake would have timed out. */
  private armedStage: HandshakeStage | undefined
  private armedDeadline: number | undefined
  /** Set when a failed responder handshake hands the raw socket to the linger instead of closing it. */
  private lingerPlan: LingerPlan | undefined

  constructor (raw: RawSocket, options: MseStreamOptions) {
    super({ highWaterMark: options.highWaterMark })
    this.raw = raw
    this.role = options.role
    this.policy = parseEncryptionPolicy(options.policy)
    this.decryptInPlace = options.decryptInPlace ?? true
    this.useInitialPayload = options.sendHandshakeAsInitialPayload ?? true
    this.onOutcome = options.onOutcome
    this.stageTimeoutMs = options.stageTimeoutMs
    this.lingerOptions = options.linger ?? {}
    this.remoteAddress = raw.remoteAddress
    this.remotePort = raw.remotePort
    this.localAddress = raw.localAddress
    this.localPort = raw.localPort
    this.handshake = new Promise(resolve => { this.settle = resolve })

    const common = { policy: this.policy, provider: options.provider, stageTimeoutMs: options.stageTimeoutMs, aes: options.aes }
    const plaintextOut = this.role === 'initiator' && (options.connect === 'plaintext' || this.policy === 'disabled')
    if (plaintextOut && this.policy === 'required') {
      throw new TypeError('a plaintext connection is not allowed under policy "required"')
    }
    if (this.role === 'initiator' && !plaintextOut) {
      if (options.infoHash === undefined) throw new TypeError('an MSE initiator needs the infoHash')
      this.session = new InitiatorHandshake({ ...common, infoHash: options.infoHash })
    } else if (this.role === 'responder') {
      if (!options.skeys) throw new TypeError('an MSE responder needs skeys (the torrents it serves)')
      this.session = new ResponderHandshake({ ...common, skeys: options.skeys, maxInitialPayload: options.maxInitialPayload })
    }

    // Each write of a scattered flight leaves as its own segment rather than waiting for Nagle to merge
    // it with the next (libtorrent sets TCP_NODELAY on every peer connection too).
    if (this.session) raw.setNoDelay?.(true)
    raw.on('data', this.onRawData)
    // Ahead of listeners already on the socket (webtorrent's own destroy the peer, and with it this
    // stream, on 'error'): a reset during the handshake must be seen here as the peer closing.
    raw.prependListener('end', this.onRawEnd)
    raw.prependListener('error', this.onRawError)
    raw.prependListener('close', this.onRawClose)

    debug('#%d %s %s: start (policy %s)', this.id, this.role, this.remoteLabel, this.policy)
    if (!this.session) {
      this.open({ role: 'initiator', method: 'plaintext', payload: new Uint8Array(0), initialPayloadLength: 0, handshakeBytesSent: 0, handshakeBytesReceived: 0, peerExtension: false })
    } else {
      this.afterStep(this.session.start(Date.now()))
    }
  }

  /** Bytes read from the raw socket so far (handshake and payload, as on the wire). */
  get bytesReceived (): number {
    return this.rawBytesReceived
  }

  /** Bytes written to the raw socket so far (handshake and payload, as on the wire). */
  get bytesSent (): number {
    return this.rawBytesSent
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
    this.rawBytesReceived += chunk.length
    if (this.state === 'open') {
      this.deliver(this.decryptor ? this.decrypt(chunk) : chunk)
      return
    }
    if (this.state !== 'handshake' || !this.session) return
    this.offerInitialPayload()
    this.afterStep(this.session.receive(chunk, Date.now()))
  }

  private decrypt (chunk: Uint8Array): Uint8Array {
    return this.decryptInPlace ? this.decryptor!.processOwned(chunk) : this.decryptor!.process(chunk)
  }

  private deliver (plain: Uint8Array): void {
    if (plain.length === 0) return
    // Backpressure: stop reading the socket until our reader asks for more (`_read`).
    if (!this.push(plain)) this.raw.pause()
  }

  override _read (callback: StreamCallback): void {
    if (this.state === 'open') this.raw.resume()
    callback(null)
  }

  private readonly onRawEnd = (): void => {
    if (this.state === 'handshake' && this.session) this.afterStep(this.session.peerClosed())
    else if (this.state === 'open') {
      this.rawEnded = true
      this.push(null)
    }
  }

  private readonly onRawError = (error: Error): void => {
    debug('#%d socket error: %s', this.id, error.message)
    if (this.state === 'handshake' && this.session) this.afterStep(this.session.peerClosed())
    else this.destroy(error)
  }

  private readonly onRawClose = (): void => {
    if (this.state === 'handshake' && this.session) this.afterStep(this.session.peerClosed())
    else if (this.destroying || this.destroyed) return
    // The peer ended cleanly: let the reader consume what is still buffered, and see 'end', first.
    else if (this.rawEnded && !isEnded(this)) this.once('end', () => this.destroy())
    else this.destroy()
  }

  // ---- handshake ------------------------------------------------------------------------------------

  private afterStep (step: HandshakeStep): void {
    // A flight leaves in a few writes of random sizes (flight-scatter.ts): no fixed-size first packets.
    if (step.send.length > 0) for (const piece of scatterFlight(step.send)) this.writeToSocket(piece)
    if (step.status === 'failed') this.fail(step.error)
    else if (step.status === 'done') this.open(step.result)
    else this.armTimer()
  }

  private armTimer (): void {
    clearTimeout(this.timer)
    const deadline = this.session?.deadline
    if (deadline === undefined) return
    if (this.session!.stage !== this.armedStage) debug('#%d %s %s: stage %s', this.id, this.role, this.remoteLabel, this.session!.stage)
    this.armedStage = this.session!.stage
    this.armedDeadline = deadline
    this.timer = setTimeout(() => {
      if (this.state !== 'handshake' || !this.session) return
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
    if (!(this.session instanceof InitiatorHandshake) || !this.useInitialPayload || this.initialPayloadTaken > 0) return
    if (this.session.stage !== 'peer-key' || this.heldBytes < BITTORRENT_HANDSHAKE_LENGTH) return
    const head = concatHeld(this.held, BITTORRENT_HANDSHAKE_LENGTH)
    for (let i = 0; i < PLAINTEXT_PROTOCOL_HEADER.length; i++) if (head[i] !== PLAINTEXT_PROTOCOL_HEADER[i]) return
    if (this.session.setInitialPayload(head)) this.initialPayloadTaken = BITTORRENT_HANDSHAKE_LENGTH
  }

  private open (result: HandshakeResult): void {
    clearTimeout(this.timer)
    this.state = 'open'
    this.encryptor = result.encryptor
    this.decryptor = result.decryptor
    this.report({
      ok: true,
      role: this.role,
      method: result.method,
      infoHash: result.infoHash ? toHex(result.infoHash) : undefined,
      handshakeBytesSent: result.handshakeBytesSent,
      handshakeBytesReceived: result.handshakeBytesReceived,
      initialPayloadLength: result.initialPayloadLength,
      durationMs: Date.now() - this.startedAt,
      closedBeforePeerKey: false,
      secretHasLeadingZero: this.session?.secretHasLeadingZero,
      peerHashedUnpaddedSecret: result.peerHashedUnpaddedSecret,
      peerExtension: result.peerExtension
    })
    this.deliver(result.payload)
    this.flushHeld()
    if (this.pendingFinal) this._final(this.pendingFinal)
  }

  private fail (error: MseError): void {
    if (this.state !== 'handshake') return
    clearTimeout(this.timer)
    this.state = 'closed'
    this.planLinger(error)
    this.report(this.failureOutcome(error))
    this.destroy(error)
  }

  /**
   * Responder: when the failed stage would have timed out had the offending bytes never come. A stage
   * entered by the same chunk that failed it started now; a timeout failure is at its deadline already.
   */
  private planLinger (error: MseError): void {
    if (this.role !== 'responder' || this.lingerOptions === false || NO_LINGER_CODES.has(error.code)) return
    const stage = error.stage as HandshakeStage
    const timeout = this.stageTimeout(stage)
    const now = Date.now()
    const stageDeadline = stage === this.armedStage && this.armedDeadline !== undefined ? this.armedDeadline : now + timeout
    this.lingerPlan = { stageDeadline, stageTimeoutMs: timeout, bytesRead: this.rawBytesReceived }
  }

  private stageTimeout (stage: HandshakeStage): number {
    const option = this.stageTimeoutMs
    if (typeof option === 'number') return option
    return option?.[stage] ?? DEFAULT_STAGE_TIMEOUT_MS
  }

  private failureOutcome (error: MseError): MseOutcome {
    const received = this.session?.bytesReceived ?? 0
    return {
      ok: false,
      role: this.role,
      handshakeBytesSent: this.session?.bytesSent ?? 0,
      handshakeBytesReceived: received,
      initialPayloadLength: 0,
      durationMs: Date.now() - this.startedAt,
      error,
      failedStage: error.stage as MseOutcome['failedStage'],
      closedBeforePeerKey: (error.code === 'peer-closed' && received === 0) || error.code === 'plaintext-reply',
      secretHasLeadingZero: this.session?.secretHasLeadingZero,
      // Only a peer running our extension can prove tampering: it speaks MSE.
      peerExtension: error.code === 'negotiation-tampered'
    }
  }

  private report (outcome: MseOutcome): void {
    this.outcome = outcome
    debug('#%d %s %s: %s', this.id, this.role, this.remoteLabel,
      outcome.ok ? `${outcome.method} (${outcome.handshakeBytesSent}/${outcome.handshakeBytesReceived} handshake bytes, IA ${outcome.initialPayloadLength}, ${outcome.durationMs} ms)` : `failed: ${outcome.error?.message}${outcome.closedBeforePeerKey ? ' (closed before its key)' : ''}`)
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
    if (this.state === 'handshake') {
      this.held.push({ chunks: batch, callback })
      for (const data of batch) this.heldBytes += data.length
      return
    }
    if (this.state === 'closed') {
      callback(new Error('stream closed'))
      return
    }
    this.writeRaw(batch, callback)
  }

  private writeRaw (chunks: Uint8Array[], callback: StreamCallback): void {
    // Never in place: the writer still owns the chunks (see Rc4's buffer contract).
    const pieces = sealBatch(this.encryptor, chunks)
    this.corkForThisTick()
    let flowing = true
    for (const piece of pieces) if (piece.length > 0) flowing = this.writeToSocket(piece)
    if (flowing) callback(null)
    else {
      this.pendingDrain = callback
      this.raw.once('drain', this.onRawDrain)
    }
  }

  /**
   * Payload writes made in one tick leave in one socket write: bittorrent-protocol writes each message on
   * its own (handshake, extended handshake, bitfield...), and with TCP_NODELAY each write is a syscall and a
   * segment (~10% of a responder's time in the load bench). Handshake flights never pass here: they keep
   * their scattered writes (flight-scatter.ts).
   */
  private corkForThisTick (): void {
    if (this.rawCorked || typeof this.raw.cork !== 'function') return
    this.rawCorked = true
    this.raw.cork()
    process.nextTick(this.uncorkRaw)
  }

  private readonly uncorkRaw = (): void => {
    this.rawCorked = false
    this.raw.uncork?.()
  }

  private readonly onRawDrain = (): void => {
    const callback = this.pendingDrain
    this.pendingDrain = undefined
    callback?.(null)
  }

  private writeToSocket (bytes: Uint8Array): boolean {
    this.rawBytesSent += bytes.length
    return this.raw.write(bytes)
  }

  private flushHeld (): void {
    const held = this.held
    this.held = []
    this.heldBytes = 0
    let skip = this.initialPayloadTaken
    for (const { chunks, callback } of held) {
      const rest: Uint8Array[] = []
      for (const data of chunks) {
        if (skip < data.length) rest.push(skip > 0 ? data.subarray(skip) : data)
        skip = Math.max(0, skip - data.length)
      }
      if (rest.length > 0) this.writeRaw(rest, callback)
      else callback(null)
    }
  }

  override _final (callback: StreamCallback): void {
    if (this.state === 'handshake') {
      this.pendingFinal = callback
      return
    }
    this.pendingFinal = undefined
    this.raw.end()
    callback(null)
  }

  /**
   * streamx runs _destroy only once no _write or _final is in flight, and ours can be parked (held during
   * the handshake, or waiting for 'drain'). Release them as soon as destroy() is called.
   */
  override _predestroy (): void {
    clearTimeout(this.timer)
    if (this.state === 'handshake') {
      this.state = 'closed'
      this.report(this.failureOutcome(new MseError('aborted', this.session?.stage ?? 'start', 'stream destroyed before the handshake completed')))
    }
    this.state = 'closed'
    const error = new Error('stream destroyed')
    const held = this.held
    this.held = []
    this.heldBytes = 0
    for (const { callback: heldCallback } of held) heldCallback(error)
    const drain = this.pendingDrain
    this.pendingDrain = undefined
    this.raw.removeListener('drain', this.onRawDrain)
    drain?.(error)
    const final = this.pendingFinal
    this.pendingFinal = undefined
    final?.(error)
  }

  override _destroy (callback: StreamCallback): void {
    this.raw.removeListener('data', this.onRawData)
    this.raw.removeListener('end', this.onRawEnd)
    this.raw.removeListener('close', this.onRawClose)
    // Keep an error listener: a late socket error must not become an uncaught exception.
    this.raw.removeListener('error', this.onRawError)
    this.raw.on('error', () => {})
    if (this.lingerPlan && this.lingerOptions !== false) lingerThenClose(this.raw, { ...this.lingerPlan, bytesRead: this.rawBytesReceived }, this.lingerOptions)
    else this.raw.destroy()
    callback(null)
  }
}

function concatHeld (held: HeldWrite[], length: number): Uint8Array {
  const out = new Uint8Array(length)
  let offset = 0
  for (const data of held.flatMap(write => write.chunks)) {
    if (offset >= length) break
    const n = Math.min(length - offset, data.length)
    out.set(data.subarray(0, n), offset)
    offset += n
  }
  return out
}
