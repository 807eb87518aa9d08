import { ascii, concatBytes, readUint16, readUint32, uint16, uint32, xorBytes } from '../bytes.js'
import {
  CRYPTO_RC4, DEFAULT_MAX_INITIAL_PAYLOAD, HASH_LENGTH, KEY_LENGTH, MAX_INITIAL_PAYLOAD_FIELD, MAX_PAD_LENGTH,
  REQ1_SYNC_WINDOW, VC_LENGTH
} from '../constants.js'
import type { StreamCipher } from '../crypto/stream-cipher.js'
import { acceptsMseHandshake, acceptsPlaintextHandshake, selectCryptoMethod } from '../policy.js'
import { detectPlaintextHandshake } from '../plaintext.js'
import type { SkeyLookup } from '../skey-registry.js'
import {
  CONFIRM_AES_128_CTR, CONFIRM_LENGTH, CONFIRM_OFFER_VERIFIED, OFFER_AES_128_CTR, encodeConfirmation, readOffer, type Offer
} from './extension.js'
import { HandshakeSession, type SessionOptions } from './session.js'
import type { HandshakeStep } from './types.js'

const REQ1 = ascii('req1')
const REQ3 = ascii('req3')
const VC = new Uint8Array(VC_LENGTH)
/** VC, crypto_provide, len(PadC): the fixed part of flight 3 after the two hashes. */
const CRYPTO_HEADER_LENGTH = VC_LENGTH + 4 + 2

export interface ResponderOptions extends SessionOptions {
  /** The torrents we serve, by HASH('req2', SKEY). Consulted once per handshake. */
  skeys: SkeyLookup
  /** Largest len(IA) accepted. Default 68 (as libtorrent, rtorrent and aria2); at most 65535. */
  maxInitialPayload?: number
}

/**
 * Side B, which accepted the connection. Also tells a plaintext BitTorrent handshake from an MSE key.
 *
 *   1. A->B  Ya, PadA                                   (read by `readPeerKey`)
 *   2. B->A  Yb, PadB
 *   3. A->B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *            ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   4. B->A  ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 */
export class ResponderHandshake extends HandshakeSession {
  private readonly skeys: SkeyLookup
  private readonly maxInitialPayload: number
  private req1: Uint8Array | undefined
  private skey: Uint8Array | undefined
  private encryptor: StreamCipher | undefined
  private decryptor: StreamCipher | undefined
  private cryptoProvide = 0
  private padCLength = -1
  private padC: Uint8Array | undefined
  private initialPayloadLength = -1

  constructor (options: ResponderOptions) {
    super('responder', options)
    this.skeys = options.skeys
    const max = options.maxInitialPayload ?? DEFAULT_MAX_INITIAL_PAYLOAD
    if (!Number.isInteger(max) || max < 0 || max > MAX_INITIAL_PAYLOAD_FIELD) {
      throw new RangeError(`maxInitialPayload must be an integer in 0..${MAX_INITIAL_PAYLOAD_FIELD}`)
    }
    this.maxInitialPayload = max
  }

  /** Call once, when the connection is accepted. Sends nothing: A speaks first. */
  start (now: number): HandshakeStep {
    if (this.stage !== 'start') throw new Error('start() called twice')
    this.enterStage('peer-key', now)
    return this.run(now)
  }

  protected advance (now: number): boolean {
    switch (this.stage) {
      case 'peer-key': return this.onFirstBytes(now)
      case 'sync': return this.onReq1Sync(now)
      case 'crypto-header': return this.onCryptoHeader()
      default: return false
    }
  }

  /** Step 1: a plaintext BitTorrent handshake, or A's key (answered with flight 2). */
  private onFirstBytes (now: number): boolean {
    const detection = detectPlaintextHandshake(this.buffered)
    if (detection === 'need-more') return false
    if (detection === 'plaintext') {
      if (!acceptsPlaintextHandshake(this.policy)) {
        throw this.violation('plaintext-refused', 'plaintext BitTorrent handshake refused: encryption is required')
      }
      this.complete({ method: 'plaintext', payload: this.takeRest().slice(), initialPayloadLength: 0, peerExtension: false })
      return false
    }
    if (!acceptsMseHandshake(this.policy)) {
      throw this.violation('encryption-refused', 'not a plaintext BitTorrent handshake, and encryption is disabled')
    }
    // Answer only a complete, valid key: a prober that sends a few bytes learns nothing, not even that
    // this port speaks MSE.
    if (this.buffered.length < KEY_LENGTH) return false
    const flight = this.keyFlight()
    this.readPeerKey()
    this.send(flight)
    this.req1 = this.provider.sha1(REQ1, this.secret!)
    this.enterStage('sync', now)
    return true
  }

  /** Step 3a: find HASH('req1', S) after PadA, ending within 628 bytes of A's stream; then the SKEY. */
  private onReq1Sync (now: number): boolean {
    const at = this.findSyncPattern(this.req1!, REQ1_SYNC_WINDOW, "HASH('req1', S)")
    if (at === undefined) return false
    if (this.buffered.length < at + 2 * HASH_LENGTH) return false
    this.discard(at + HASH_LENGTH) // PadA and req1
    const obfuscated = this.take(HASH_LENGTH)!
    const req2 = xorBytes(obfuscated, this.provider.sha1(REQ3, this.secret!))
    const skey = this.skeys.lookup(req2)
    if (!skey) throw this.violation('unknown-skey', 'HASH(\'req2\', SKEY) matches no torrent we serve')
    this.skey = skey
    const { encryptor, decryptor } = this.deriveCiphers(skey)
    this.encryptor = encryptor
    this.decryptor = decryptor
    this.enterStage('crypto-header', now)
    return true
  }

  /** Step 3b: VC, crypto_provide, PadC, IA; then answer with flight 4. */
  private onCryptoHeader (): boolean {
    const decryptor = this.decryptor!
    if (this.padCLength < 0) {
      if (this.buffered.length < CRYPTO_HEADER_LENGTH) return false
      const header = decryptor.process(this.take(CRYPTO_HEADER_LENGTH)!)
      if (!HandshakeSession.isZeroVc(header.subarray(0, VC_LENGTH))) {
        throw this.violation('bad-vc', 'verification constant is not zero: wrong key or not MSE')
      }
      this.cryptoProvide = readUint32(header, VC_LENGTH)
      const padLength = readUint16(header, VC_LENGTH + 4)
      if (padLength > MAX_PAD_LENGTH) throw this.violation('pad-too-long', `len(PadC) is ${padLength}`)
      this.padCLength = padLength
    }
    if (this.initialPayloadLength < 0) {
      if (this.buffered.length < this.padCLength + 2) return false
      this.padC = decryptor.process(this.take(this.padCLength)!)
      const length = readUint16(decryptor.process(this.take(2)!), 0)
      if (length > this.maxInitialPayload) {
        throw this.violation('ia-too-long', `len(IA) is ${length}, at most ${this.maxInitialPayload} accepted`)
      }
      this.initialPayloadLength = length
    }
    if (this.buffered.length < this.initialPayloadLength) return false
    const initialPayload = decryptor.process(this.take(this.initialPayloadLength)!)

    // The extension first: a verified offer whose provide differs from the header's proves tampering,
    // which is the error to report even where the policy would also refuse.
    const offer = this.extension ? readOffer(this.provider, this.extensionKey!, this.padC!, this.initialPayloadLength) : undefined
    if (offer && offer.provide !== this.cryptoProvide) {
      throw this.violation('negotiation-tampered',
        `crypto_provide changed in transit: the peer sent 0x${offer.provide.toString(16)}, we received 0x${this.cryptoProvide.toString(16)}`)
    }
    const selected = selectCryptoMethod(this.policy, this.cryptoProvide)
    if (selected === undefined) {
      throw this.violation('no-common-method', `peer provides 0x${this.cryptoProvide.toString(16)}, policy ${this.policy} accepts none of it`)
    }
    const rc4 = selected === CRYPTO_RC4
    const aes = rc4 && this.aes && offer !== undefined && (offer.flags & OFFER_AES_128_CTR) !== 0
    const padD = this.padD(selected, offer, aes)
    // AES needs the confirmation to reach A: without room for it in PadD, RC4 runs.
    const switched = aes && padD.confirmed
    this.send(this.encryptor!.processOwned(concatBytes(VC, uint32(selected), uint16(padD.pad.length), padD.pad)))

    const ciphers = switched ? this.aesCiphers() : rc4 ? { encryptor: this.encryptor!, decryptor } : undefined
    const rest = this.takeRest()
    this.complete({
      method: switched ? 'aes-128-ctr' : rc4 ? 'rc4' : 'plaintext-after-mse',
      infoHash: this.skey,
      cryptoProvide: this.cryptoProvide,
      cryptoSelect: selected,
      encryptor: ciphers?.encryptor,
      decryptor: ciphers?.decryptor,
      // IA is always RC4; with plaintext or AES selected, the switch happens exactly after len(IA) bytes.
      payload: concatBytes(initialPayload, ciphers ? ciphers.decryptor.process(rest) : rest),
      initialPayloadLength: this.initialPayloadLength,
      peerExtension: offer !== undefined
    })
    return false
  }

  /**
   * PadD: uniform random length; the confirmation at its start when it fits. Sent to every initiator (only
   * ours can read it), so that A learns what B received even when A's offer did not arrive intact.
   */
  private padD (selected: number, offer: Offer | undefined, aes: boolean): { pad: Uint8Array, confirmed: boolean } {
    const length = this.randomPadLength()
    if (!this.extension) return { pad: new Uint8Array(length), confirmed: false }
    const flags = (aes ? CONFIRM_AES_128_CTR : 0) | (offer ? CONFIRM_OFFER_VERIFIED : 0)
    const pad = encodeConfirmation(this.provider, this.extensionKey!, { flags, provide: this.cryptoProvide, select: selected }, length, offer)
    return { pad, confirmed: length >= CONFIRM_LENGTH }
  }
}
