import { ascii, concatBytes, indexOfBytes } from '../bytes.js'
import { CRYPTO_RC4, DEFAULT_STAGE_TIMEOUT_MS, KEY_LENGTH, MAX_BYTES_BEFORE_KEY_REPLY, MAX_PAD_LENGTH } from '../constants.js'
import { nodeCryptoProvider } from '../crypto/node-provider.js'
import type { CryptoProvider, RandomSource } from '../crypto/provider.js'
import type { StreamCipher } from '../crypto/stream-cipher.js'
import { generatePrivateKey, isValidPeerKey } from '../dh.js'
import { extensionKey } from './extension.js'
import { aesCtrParameters } from './payload-keys.js'
import { MseError, type MseErrorCode } from '../errors.js'
import { parseEncryptionPolicy, type EncryptionPolicy } from '../policy.js'
import type { HandshakeResult, HandshakeStage, HandshakeStep, Role } from './types.js'

const KEY_A = ascii('keyA')
const KEY_B = ascii('keyB')
const EMPTY = new Uint8Array(0)

export interface SessionOptions {
  /** Default `preferred`. */
  policy?: EncryptionPolicy
  /** Default: `node:crypto`. */
  provider?: CryptoProvider
  /** Default: the provider's CSPRNG. Tests inject a deterministic source for known-answer transcripts. */
  random?: RandomSource
  /**
   * Carry this project's authenticated negotiation extension in PadC / PadD (docs/mse-extension.md).
   * Default true. Other clients ignore it; false sends the zeroed pads of the plain spec.
   */
  extension?: boolean
  /**
   * Offer (initiator) or accept (responder) AES-128-CTR for the payload through the extension, with peers
   * of this project, wherever RC4 would run. Default true; false keeps RC4.
   */
  aes?: boolean
  /** Milliseconds each stage may take (spec: 30 s for the peer's key). Per stage or one for all. */
  stageTimeoutMs?: number | Partial<Record<HandshakeStage, number>>
}

/** The stages a role's steps belong to: each has a deadline. */
export type TimedStage = 'peer-key' | 'sync' | 'crypto-header'

/** Before `start()`, and after the end. */
type Ends = 'start' | 'done' | 'failed'

/** What a handshake ends with, besides the payload: the fields both roles report. */
export interface Negotiated {
  cryptoProvide: number
  /** crypto_select: exactly one of CRYPTO_RC4 or CRYPTO_PLAINTEXT (checked by the role). */
  cryptoSelect: number
  /** The extension switched both payload streams to AES-128-CTR (only where RC4 was selected). */
  aes: boolean
  peerExtension: boolean
  initialPayloadLength: number
  peerHashedUnpaddedSecret: boolean
}

/**
 * The MSE handshake (Vuze's "Message Stream Encryption" spec; A opened the connection, B accepted it):
 *
 *   1. A->B  Ya, PadA
 *   2. B->A  Yb, PadB
 *   3. A->B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *            ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   4. B->A  ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 *   5. A->B  ENCRYPT2(payload)
 *
 * What both roles share lives here: the start guard, input buffering, stage deadlines, error values, the
 * cipher fields, the steps that are the same for A and B (a key with a pad, reading the peer's key,
 * deriving the RC4 streams), and the end of the handshake. Each role reads its peer's flights in small
 * named steps (`Step`, in the order the spec lists the fields); `advance()` runs the current one, which
 * consumes buffered bytes and returns false when it needs more. The steps group into the public stages
 * (`TimedStage`) that deadlines and errors report. Nothing here does I/O: bytes and the current time come
 * in, bytes and outcomes go out.
 */
export abstract class HandshakeSession<Step extends string> {
  readonly role: Role
  readonly policy: EncryptionPolicy
  /** Whether PadC / PadD carry the extension. */
  readonly extension: boolean
  /** Whether AES-128-CTR may replace RC4 (needs the extension). */
  readonly aes: boolean
  protected readonly provider: CryptoProvider
  protected readonly random: RandomSource

  /** The public stage of each step, and of the three states around them. */
  private readonly stageOf: Readonly<Record<Step | Ends, HandshakeStage>>
  private current: Step | Ends = 'start'
  private stageDeadline: number | undefined
  private readonly timeouts: Record<HandshakeStage, number>
  /** The time of the call being handled: a stage's deadline counts from when it was entered. */
  private now = 0
  private ended: HandshakeStep | undefined
  private outbox: Uint8Array[] = []

  /** Received bytes not yet consumed by a step. */
  private pending: Uint8Array = EMPTY
  /** Stream offset of `pending[0]`: how many of the peer's bytes the handshake consumed. */
  private consumed = 0
  private received = 0
  private sent = 0

  private privateKey: Uint8Array | undefined
  protected secret: Uint8Array | undefined
  /** HASH('keyA', S, SKEY) and HASH('keyB', S, SKEY): RC4 keys, and the AES keys of the extension. */
  private keyHashes: { a: Uint8Array, b: Uint8Array } | undefined
  /** The SKEY the RC4 streams are keyed with: the initiator's torrent, or the one the responder matched. */
  private skey: Uint8Array | undefined
  /** Our RC4 stream (ENCRYPT) and the peer's (DECRYPT), once S and SKEY are known. */
  protected encryptor: StreamCipher | undefined
  protected decryptor: StreamCipher | undefined
  /** K of the extension, once S and SKEY are known. */
  protected extensionKey: Uint8Array | undefined

  constructor (role: Role, options: SessionOptions, stageOf: Readonly<Record<Step, TimedStage>>) {
    this.role = role
    this.stageOf = { ...stageOf, start: 'start', done: 'done', failed: 'failed' }
    this.policy = parseEncryptionPolicy(options.policy)
    this.extension = options.extension ?? true
    this.aes = this.extension && (options.aes ?? true)
    this.provider = options.provider ?? nodeCryptoProvider
    this.random = options.random ?? (n => this.provider.randomBytes(n))
    const timeout = options.stageTimeoutMs
    const perStage = typeof timeout === 'number' ? undefined : timeout
    const all = typeof timeout === 'number' ? timeout : DEFAULT_STAGE_TIMEOUT_MS
    this.timeouts = Object.fromEntries(
      (['start', 'peer-key', 'sync', 'crypto-header', 'done', 'failed'] as HandshakeStage[])
        .map(stage => [stage, perStage?.[stage] ?? all])
    ) as Record<HandshakeStage, number>
  }

  get stage (): HandshakeStage {
    return this.stageOf[this.current]
  }

  /** Absolute time (same clock as `now`) by which the current stage must complete, if one applies. */
  get deadline (): number | undefined {
    return this.stageDeadline
  }

  /** Bytes of the peer's stream received so far (handshake and any payload). */
  get bytesReceived (): number {
    return this.received
  }

  get bytesSent (): number {
    return this.sent
  }

  get finished (): boolean {
    return this.ended !== undefined
  }

  /**
   * Whether the shared secret S begins with a zero byte (about 1 handshake in 256); undefined until S is
   * known. Clients that hash S without its left padding (libtorrent-rasterbar up to 2.0.12, rakshasa's
   * libtorrent) compute a different HASH('req3', S) for exactly these secrets and drop the connection.
   */
  get secretHasLeadingZero (): boolean | undefined {
    return this.secret === undefined ? undefined : this.secret[0] === 0
  }

  /** Call once, when the connection opens (initiator) or is accepted (responder). */
  start (now: number): HandshakeStep {
    if (this.current !== 'start') throw new Error('start() called twice')
    this.now = now
    this.begin()
    return this.run(now)
  }

  /** Feeds bytes from the peer. Never throws: protocol violations come back as a failed step. */
  receive (data: Uint8Array, now: number): HandshakeStep {
    if (this.ended) {
      return this.fail(new MseError('handshake-finished', this.stage, 'bytes received after the handshake ended'), false)
    }
    const expired = this.expire(now)
    if (expired) return expired
    if (data.length > 0) {
      this.received += data.length
      this.pending = this.pending.length === 0 ? data.slice() : concatBytes(this.pending, data)
    }
    return this.run(now)
  }

  /** Call when a timer fires (or any time): fails the handshake if the stage deadline has passed. */
  expire (now: number): HandshakeStep | undefined {
    if (this.ended || this.stageDeadline === undefined || now < this.stageDeadline) return undefined
    return this.fail(new MseError('deadline-exceeded', this.stage,
      `stage ${this.stage} took longer than ${this.timeouts[this.stage]} ms`))
  }

  /** Call when the peer ends the stream before the handshake completed. */
  peerClosed (): HandshakeStep {
    if (this.ended) return this.ended
    return this.fail(new MseError('peer-closed', this.stage,
      `peer closed the connection after ${this.received} bytes`))
  }

  /** The role's first move: what it sends before reading anything, and its first step. */
  protected abstract begin (): void

  /** Runs the current step: consumes its bytes and returns true, or returns false when it needs more. */
  protected abstract advance (): boolean

  /** Runs the role's steps until they need more bytes, collecting what to send. */
  private run (now: number): HandshakeStep {
    this.now = now
    try {
      while (!this.ended && this.advance()) { /* each step consumes its bytes */ }
    } catch (err) {
      const error = err instanceof MseError
        ? err
        : new MseError('internal-error', this.stage, `unexpected failure: ${(err as Error).message}`)
      return this.fail(error)
    }
    const send = this.flush()
    if (this.ended) return { ...this.ended, send: concatBytes(send, this.ended.send) }
    return { status: 'pending', send }
  }

  // ---- for the roles' steps -------------------------------------------------------------------------

  /** The step being run; `start` before `start()`, `done` / `failed` after the end. */
  protected get step (): Step | Ends {
    return this.current
  }

  /** Moves to `step`. Entering a new stage starts that stage's deadline. */
  protected goTo (step: Step): void {
    const stage = this.stageOf[step]
    if (stage !== this.stage) this.stageDeadline = this.now + this.timeouts[stage]
    this.current = step
  }

  protected send (bytes: Uint8Array): void {
    if (bytes.length === 0) return
    this.sent += bytes.length
    this.outbox.push(bytes)
  }

  private flush (): Uint8Array {
    const out = this.outbox.length === 1 ? this.outbox[0]! : concatBytes(...this.outbox)
    this.outbox = []
    return out
  }

  protected get buffered (): Uint8Array {
    return this.pending
  }

  /** Consumes and returns `length` bytes, or undefined if fewer are buffered. */
  protected take (length: number): Uint8Array | undefined {
    if (this.pending.length < length) return undefined
    const out = this.pending.subarray(0, length)
    this.pending = this.pending.subarray(length)
    this.consumed += length
    return out
  }

  /** `take()` through the peer's RC4 stream (DECRYPT). */
  protected takeDecrypted (length: number): Uint8Array | undefined {
    const bytes = this.take(length)
    return bytes && this.decryptor!.process(bytes)
  }

  /** Drops `length` buffered bytes (a pad we skip over while resynchronising). */
  protected discard (length: number): void {
    this.pending = this.pending.subarray(length)
    this.consumed += length
  }

  /**
   * Resynchronisation: where `pattern` starts in the buffered bytes, if it ends within the first
   * `window` bytes of the peer's stream. Undefined while it may still arrive; `sync-not-found` once the
   * window is full without it.
   */
  protected findSyncPattern (pattern: Uint8Array, window: number, what: string): number | undefined {
    const at = indexOfBytes(this.pending, pattern, 0, window - this.consumed)
    if (at >= 0) return at
    if (this.consumed + this.pending.length >= window) {
      throw this.violation('sync-not-found', `${what} not within ${window} bytes`)
    }
    return undefined
  }

  /** Everything still buffered: the payload that arrived with the end of the handshake. */
  private takeRest (): Uint8Array {
    const rest = this.pending
    this.consumed += rest.length
    this.pending = EMPTY
    return rest
  }

  protected violation (code: MseErrorCode, message: string): MseError {
    return new MseError(code, this.stage, message)
  }

  /** Flight 1 or 2: our fresh public key and a random pad of random length (PadA / PadB). */
  protected keyFlight (): Uint8Array {
    this.privateKey = generatePrivateKey(this.random)
    const publicKey = this.provider.dhPublicKey(this.privateKey)
    return concatBytes(publicKey, this.random(this.randomPadLength()))
  }

  /**
   * Reads the peer's 96-byte key and computes S. Fails on a degenerate key (before any exponentiation)
   * and when the peer sent more than it may before our next step.
   */
  protected readPeerKey (): boolean {
    if (this.pending.length < KEY_LENGTH) return false
    if (this.received > MAX_BYTES_BEFORE_KEY_REPLY) {
      throw this.violation('too-many-bytes', `${this.received} bytes arrived before our reply; at most ${MAX_BYTES_BEFORE_KEY_REPLY} are allowed`)
    }
    const peerKey = this.take(KEY_LENGTH)!
    if (!isValidPeerKey(peerKey)) throw this.violation('degenerate-key', 'peer key is outside [2, P-2]')
    this.secret = this.provider.dhSharedSecret(this.privateKey!, peerKey)
    return true
  }

  /**
   * The RC4 streams: A encrypts with HASH('keyA', S, SKEY) and decrypts with HASH('keyB', S, SKEY); B the
   * reverse. Also keys the extension, which needs the same S and SKEY.
   */
  protected deriveCiphers (skey: Uint8Array): void {
    const a = this.provider.sha1(KEY_A, this.secret!, skey)
    const b = this.provider.sha1(KEY_B, this.secret!, skey)
    this.skey = skey
    this.keyHashes = { a, b }
    if (this.extension) this.extensionKey = extensionKey(this.provider, this.secret!, skey)
    const keyA = this.provider.createRc4(a)
    const keyB = this.provider.createRc4(b)
    this.encryptor = this.role === 'initiator' ? keyA : keyB
    this.decryptor = this.role === 'initiator' ? keyB : keyA
  }

  /** AES-128-CTR payload streams (extension): each direction keyed from its own hash, counter at 0. */
  private aesCiphers (): { encryptor: StreamCipher, decryptor: StreamCipher } {
    const make = (hash: Uint8Array): StreamCipher => {
      const { key, counterBlock } = aesCtrParameters(hash)
      return this.provider.createAes128Ctr(key, counterBlock)
    }
    const a = make(this.keyHashes!.a)
    const b = make(this.keyHashes!.b)
    return this.role === 'initiator' ? { encryptor: a, decryptor: b } : { encryptor: b, decryptor: a }
  }

  /**
   * Length of PadC / PadD: uniform in 0..512 whether or not the extension fits, so that flight sizes look
   * the same with and without it (the extension is left out when the drawn pad is too short for it).
   */
  protected randomPadLength (): number {
    const span = MAX_PAD_LENGTH + 1
    const limit = Math.floor(0x10000 / span) * span
    for (let attempt = 0; attempt < 64; attempt++) {
      const r = this.random(2)
      const value = (r[0]! << 8) | r[1]!
      if (value < limit) return value % span
    }
    return 0
  }

  /**
   * The end of an MSE handshake (ENCRYPT2 from here on): RC4 continues the handshake's streams, AES-128-CTR
   * (extension) starts new ones, plaintext needs none. The bytes buffered after the handshake are the
   * peer's first payload, after `receivedIa` (the responder's decrypted IA, always RC4 on the wire).
   */
  protected finish (negotiated: Negotiated, receivedIa: Uint8Array = EMPTY): void {
    const { aes, ...fields } = negotiated
    const rc4 = negotiated.cryptoSelect === CRYPTO_RC4
    const ciphers = aes ? this.aesCiphers() : rc4 ? { encryptor: this.encryptor!, decryptor: this.decryptor! } : undefined
    const rest = this.takeRest()
    const tail = ciphers ? ciphers.decryptor.process(rest) : rest.slice()
    this.complete({
      ...fields,
      method: aes ? 'aes-128-ctr' : rc4 ? 'rc4' : 'plaintext-after-mse',
      infoHash: this.skey,
      encryptor: ciphers?.encryptor,
      decryptor: ciphers?.decryptor,
      payload: receivedIa.length === 0 ? tail : concatBytes(receivedIa, tail)
    })
  }

  /** The end of a plaintext connection (responder): every byte received is payload. */
  protected finishPlaintext (): void {
    this.complete({
      method: 'plaintext', payload: this.takeRest().slice(), initialPayloadLength: 0, peerExtension: false, peerHashedUnpaddedSecret: false
    })
  }

  private complete (result: Omit<HandshakeResult, 'role' | 'handshakeBytesSent' | 'handshakeBytesReceived'>): void {
    this.current = 'done'
    this.stageDeadline = undefined
    this.ended = {
      status: 'done',
      send: EMPTY,
      result: {
        ...result,
        role: this.role,
        handshakeBytesSent: this.sent,
        handshakeBytesReceived: this.received - result.payload.length
      }
    }
  }

  private fail (error: MseError, record = true): HandshakeStep {
    const step: HandshakeStep = { status: 'failed', send: EMPTY, error }
    if (record) {
      this.ended = step
      this.current = 'failed'
      this.stageDeadline = undefined
      this.pending = EMPTY
    }
    return step
  }
}
