import { ascii, concatBytes, readUint16, readUint32, uint16, uint32, xorBytes } from '../bytes.js'
import {
  CRYPTO_RC4, DEFAULT_MAX_INITIAL_PAYLOAD, HASH_LENGTH, KEY_LENGTH, MAX_INITIAL_PAYLOAD_FIELD, MAX_PAD_LENGTH,
  REQ1_SYNC_WINDOW, VC_LENGTH
} from '../constants.js'
import { acceptsMseHandshake, acceptsPlaintextHandshake, selectCryptoMethod } from '../policy.js'
import { detectPlaintextHandshake } from '../plaintext.js'
import type { SkeyLookup } from '../skey-registry.js'
import {
  CONFIRM_AES_128_CTR, CONFIRM_LENGTH, CONFIRM_OFFER_VERIFIED, OFFER_AES_128_CTR, encodeConfirmation, readOffer, type Offer
} from './extension.js'
import { HandshakeSession, type SessionOptions, type TimedStage } from './session.js'

const REQ1 = ascii('req1')
const REQ3 = ascii('req3')
const VC = new Uint8Array(VC_LENGTH)
/** VC, crypto_provide, len(PadC): the fixed part of flight 3 after the two hashes. */
const CRYPTO_HEADER_LENGTH = VC_LENGTH + 4 + 2
/** len(IA) */
const IA_LENGTH_FIELD = 2

/** B's steps, in the order of the fields it reads, and the stage each belongs to. */
const STEPS = {
  /** Flight 1: Ya (PadA is skipped while looking for flight 3), or a plaintext BitTorrent handshake. Answered with flight 2. */
  'read-ya': 'peer-key',
  /** Flight 3: HASH('req1', S), after PadA, ending within 628 bytes of A's stream. */
  'find-req1': 'sync',
  /** Flight 3: HASH('req2', SKEY) xor HASH('req3', S): which torrent. */
  'read-skey': 'sync',
  /** Flight 3: ENCRYPT(VC, crypto_provide, len(PadC)). */
  'read-crypto-provide': 'crypto-header',
  /** Flight 3: ENCRYPT(PadC, len(IA)). */
  'read-pad-c': 'crypto-header',
  /** Flight 3: ENCRYPT(IA). Answered with flight 4; then the payload. */
  'read-ia': 'crypto-header'
} as const satisfies Record<string, TimedStage>
type ResponderStep = keyof typeof STEPS

export interface ResponderOptions extends SessionOptions {
  /** The torrents we serve, by HASH('req2', SKEY). Consulted once per handshake. */
  skeys: SkeyLookup
  /** Largest len(IA) accepted. Default 68 (as libtorrent, rtorrent and aria2); at most 65535. */
  maxInitialPayload?: number
}

/**
 * Side B, which accepted the connection: reads flights 1 and 3, sends 2 and 4 (flights: session.ts). Also
 * tells a plaintext BitTorrent handshake from an MSE key.
 */
export class ResponderHandshake extends HandshakeSession<ResponderStep> {
  private readonly skeys: SkeyLookup
  private readonly maxInitialPayload: number
  /** HASH('req1', S), the pattern that ends PadA. */
  private req1: Uint8Array | undefined
  /** Read by `read-crypto-provide`. */
  private cryptoProvide = 0
  private padCLength = 0
  /** Read by `read-pad-c`. */
  private padC: Uint8Array | undefined
  private initialPayloadLength = 0
  /** The SKEY matched only through S without its leading zero bytes (see `lookupSkey`). */
  private peerHashedUnpaddedSecret = false

  constructor (options: ResponderOptions) {
    super('responder', options, STEPS)
    this.skeys = options.skeys
    const max = options.maxInitialPayload ?? DEFAULT_MAX_INITIAL_PAYLOAD
    if (!Number.isInteger(max) || max < 0 || max > MAX_INITIAL_PAYLOAD_FIELD) {
      throw new RangeError(`maxInitialPayload must be an integer in 0..${MAX_INITIAL_PAYLOAD_FIELD}`)
    }
    this.maxInitialPayload = max
  }

  /** Sends nothing: A speaks first. */
  protected begin (): void {
    this.goTo('read-ya')
  }

  protected advance (): boolean {
    switch (this.step) {
      case 'read-ya': return this.readYa()
      case 'find-req1': return this.findReq1()
      case 'read-skey': return this.readSkey()
      case 'read-crypto-provide': return this.readCryptoProvide()
      case 'read-pad-c': return this.readPadC()
      case 'read-ia': return this.readIa()
      default: return false
    }
  }

  private readYa (): boolean {
    const detection = detectPlaintextHandshake(this.buffered)
    if (detection === 'need-more') return false
    if (detection === 'plaintext') {
      if (!acceptsPlaintextHandshake(this.policy)) {
        throw this.violation('plaintext-refused', 'plaintext BitTorrent handshake refused: encryption is required')
      }
      this.finishPlaintext()
      return false
    }
    if (!acceptsMseHandshake(this.policy)) {
      throw this.violation('encryption-refused', 'not a plaintext BitTorrent handshake, and encryption is disabled')
    }
    // Answer only a complete, valid key: a prober that sends a few bytes learns nothing, not even that
    // this port speaks MSE.
    if (this.buffered.length < KEY_LENGTH) return false
    const flightTwo = this.keyFlight() // Yb, PadB
    this.readPeerKey()
    this.send(flightTwo)
    this.req1 = this.provider.sha1(REQ1, this.secret!)
    this.goTo('find-req1')
    return true
  }

  private findReq1 (): boolean {
    const at = this.findSyncPattern(this.req1!, REQ1_SYNC_WINDOW, "HASH('req1', S)")
    if (at === undefined) return false
    this.discard(at + HASH_LENGTH) // PadA, HASH('req1', S)
    this.goTo('read-skey')
    return true
  }

  private readSkey (): boolean {
    const masked = this.take(HASH_LENGTH)
    if (!masked) return false
    const skey = this.lookupSkey(masked)
    if (!skey) throw this.violation('unknown-skey', 'HASH(\'req2\', SKEY) matches no torrent we serve')
    this.deriveCiphers(skey)
    this.goTo('read-crypto-provide')
    return true
  }

  /**
   * The SKEY behind HASH('req2', SKEY) xor HASH('req3', S). The spec hashes S as its 96 bytes, left-padded;
   * libtorrent-rasterbar up to 2.0.12 (fixed in 2.0.13) and rakshasa's libtorrent, when they dial us, hash S
   * without its leading zero bytes. When nothing matches and S begins with a zero byte (the only case
   * where the two differ), that mask is tried too: one more SHA-1 and lookup, in ~1 handshake in 256.
   */
  private lookupSkey (masked: Uint8Array): Uint8Array | undefined {
    const secret = this.secret!
    const skey = this.skeys.lookup(xorBytes(masked, this.provider.sha1(REQ3, secret)))
    if (skey || secret[0] !== 0) return skey
    let zeros = 1
    while (zeros < secret.length - 1 && secret[zeros] === 0) zeros++
    const unpadded = this.skeys.lookup(xorBytes(masked, this.provider.sha1(REQ3, secret.subarray(zeros))))
    this.peerHashedUnpaddedSecret = unpadded !== undefined
    return unpadded
  }

  private readCryptoProvide (): boolean {
    const header = this.takeDecrypted(CRYPTO_HEADER_LENGTH)
    if (!header) return false
    if (!isZeroVc(header.subarray(0, VC_LENGTH))) {
      throw this.violation('bad-vc', 'verification constant is not zero: wrong key or not MSE')
    }
    const padLength = readUint16(header, VC_LENGTH + 4)
    if (padLength > MAX_PAD_LENGTH) throw this.violation('pad-too-long', `len(PadC) is ${padLength}`)
    this.cryptoProvide = readUint32(header, VC_LENGTH)
    this.padCLength = padLength
    this.goTo('read-pad-c')
    return true
  }

  private readPadC (): boolean {
    if (this.buffered.length < this.padCLength + IA_LENGTH_FIELD) return false
    this.padC = this.takeDecrypted(this.padCLength)!
    const length = readUint16(this.takeDecrypted(IA_LENGTH_FIELD)!, 0)
    if (length > this.maxInitialPayload) {
      throw this.violation('ia-too-long', `len(IA) is ${length}, at most ${this.maxInitialPayload} accepted`)
    }
    this.initialPayloadLength = length
    this.goTo('read-ia')
    return true
  }

  private readIa (): boolean {
    const initialPayload = this.takeDecrypted(this.initialPayloadLength)
    if (!initialPayload) return false
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
    const aes = selected === CRYPTO_RC4 && this.aes && offer !== undefined && (offer.flags & OFFER_AES_128_CTR) !== 0
    const padD = this.padD(selected, offer, aes)
    this.sendFlightFour(selected, padD.pad)
    this.finish({
      cryptoProvide: this.cryptoProvide,
      cryptoSelect: selected,
      // AES needs the confirmation to reach A: without room for it in PadD, RC4 runs.
      aes: aes && padD.confirmed,
      peerExtension: offer !== undefined,
      initialPayloadLength: this.initialPayloadLength,
      peerHashedUnpaddedSecret: this.peerHashedUnpaddedSecret
    }, initialPayload) // IA is always RC4; with plaintext or AES selected, the switch happens exactly after len(IA) bytes.
    return false
  }

  /** Flight 4: ENCRYPT(VC, crypto_select, len(PadD), PadD). */
  private sendFlightFour (selected: number, padD: Uint8Array): void {
    this.send(this.encryptor!.processOwned(concatBytes(VC, uint32(selected), uint16(padD.length), padD)))
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

/** VC: 8 zero bytes once decrypted (a wrong key decrypts it to noise). */
function isZeroVc (bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0) return false
  return true
}
