import { ascii, concatBytes, readUint16, readUint32, uint16, uint32, xorBytes } from '../bytes.js'
import { BITTORRENT_HANDSHAKE_LENGTH, CRYPTO_RC4, MAX_PAD_LENGTH, VC_LENGTH, VC_SYNC_WINDOW } from '../constants.js'
import { cryptoProvideFor, isAcceptableSelect } from '../policy.js'
import { detectPlaintextHandshake } from '../plaintext.js'
import { skeyFromInfoHash } from '../skey-registry.js'
import {
  CONFIRM_AES_128_CTR, CONFIRM_OFFER_VERIFIED, OFFER_AES_128_CTR, encodeOffer, readConfirmation, type Confirmation
} from './extension.js'
import { HandshakeSession, type SessionOptions, type TimedStage } from './session.js'

const REQ1 = ascii('req1')
const REQ2 = ascii('req2')
const REQ3 = ascii('req3')
const VC = new Uint8Array(VC_LENGTH)
/** crypto_select (4), len(PadD) (2): the fixed part of flight 4 after VC. */
const SELECT_LENGTH = 4 + 2

/** A's steps after flight 1, in the order of the fields it reads, and the stage each belongs to. */
const STEPS = {
  /** Flight 2: Yb (PadB is skipped while looking for flight 4). Answered with flight 3. */
  'read-yb': 'peer-key',
  /** Flight 4: ENCRYPT(VC), after PadB, within 616 bytes of B's stream. */
  'find-vc': 'sync',
  /** Flight 4: ENCRYPT(crypto_select, len(PadD)). */
  'read-crypto-select': 'crypto-header',
  /** Flight 4: ENCRYPT(PadD); then the payload. */
  'read-pad-d': 'crypto-header'
} as const satisfies Record<string, TimedStage>
type InitiatorStep = keyof typeof STEPS

export interface InitiatorOptions extends SessionOptions {
  /** The torrent's info hash: SKEY (20 bytes, or a v2 SHA-256 hash that is truncated to 20). */
  infoHash: Uint8Array | string
  /**
   * IA: the first payload, sent inside flight 3. 0 bytes or exactly the 68-byte BitTorrent handshake:
   * libtorrent, rtorrent and aria2 reject anything else. May also be set later with `setInitialPayload`.
   */
  initialPayload?: Uint8Array
}

/** Side A, which opened the connection: sends flights 1 and 3, reads 2 and 4 (flights: session.ts). */
export class InitiatorHandshake extends HandshakeSession<InitiatorStep> {
  /** SKEY: the torrent we dial for. */
  private readonly torrentSkey: Uint8Array
  private readonly cryptoProvide: number
  private initialPayload: Uint8Array
  /** The tag of the extension offer we put in PadC (none when the drawn PadC was too short). */
  private offerTag: Uint8Array | undefined
  /** ENCRYPT(VC) as B sends it, computed when the keys are known. */
  private encryptedVc: Uint8Array | undefined
  /** Read by `read-crypto-select`. */
  private cryptoSelect = 0
  private padDLength = 0

  constructor (options: InitiatorOptions) {
    super('initiator', options, STEPS)
    if (this.policy === 'disabled') throw new TypeError('an initiator with policy "disabled" must not start MSE: connect in plaintext')
    // Copies: the caller may reuse its buffers while the handshake runs.
    this.torrentSkey = skeyFromInfoHash(options.infoHash).slice()
    this.cryptoProvide = cryptoProvideFor(this.policy)
    this.initialPayload = checkInitialPayload(options.initialPayload ?? new Uint8Array(0)).slice()
  }

  /**
   * Sets IA until flight 3 goes out; returns false (and leaves the bytes to the caller, to send as
   * ordinary payload) once it has.
   */
  setInitialPayload (payload: Uint8Array): boolean {
    if (this.step !== 'start' && this.step !== 'read-yb') return false
    this.initialPayload = checkInitialPayload(payload).slice()
    return true
  }

  /** Flight 1: Ya, PadA. */
  protected begin (): void {
    this.send(this.keyFlight())
    this.goTo('read-yb')
  }

  protected advance (): boolean {
    switch (this.step) {
      case 'read-yb': return this.readYb()
      case 'find-vc': return this.findVc()
      case 'read-crypto-select': return this.readCryptoSelect()
      case 'read-pad-d': return this.readPadD()
      default: return false
    }
  }

  private readYb (): boolean {
    // A peer without MSE may answer with its own plaintext BitTorrent handshake (ctorrent sends it on
    // accept, before reading): no key will follow. Say so at once, with a code callers can act on.
    if (detectPlaintextHandshake(this.buffered) === 'plaintext') {
      throw this.violation('plaintext-reply', 'peer answered with a plaintext BitTorrent handshake: it does not speak MSE')
    }
    if (!this.readPeerKey()) return false
    this.deriveCiphers(this.torrentSkey)
    // ENCRYPT(VC) as B will send it: a copy of our decrypting stream run over 8 zero bytes, so the live
    // stream is never used for trial decryption.
    this.encryptedVc = this.decryptor!.clone().process(VC)
    this.sendFlightThree()
    this.goTo('find-vc')
    return true
  }

  /**
   * Flight 3: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
   * ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA).
   */
  private sendFlightThree (): void {
    const secret = this.secret!
    const ia = this.initialPayload
    const padC = this.padC(ia.length)
    this.send(concatBytes(
      this.provider.sha1(REQ1, secret),
      xorBytes(this.provider.sha1(REQ2, this.torrentSkey), this.provider.sha1(REQ3, secret)),
      this.encryptor!.processOwned(concatBytes(VC, uint32(this.cryptoProvide), uint16(padC.length), padC, uint16(ia.length))),
      this.encryptor!.process(ia)
    ))
  }

  /** PadC: uniform random length; the extension offer at its start when it fits (docs/mse-extension.md). */
  private padC (iaLength: number): Uint8Array {
    const length = this.randomPadLength()
    if (!this.extension) return new Uint8Array(length)
    const flags = this.aes && (this.cryptoProvide & CRYPTO_RC4) !== 0 ? OFFER_AES_128_CTR : 0
    const { pad, tag } = encodeOffer(this.provider, this.extensionKey!, flags, this.cryptoProvide, length, iaLength)
    this.offerTag = tag
    return pad
  }

  private findVc (): boolean {
    const at = this.findSyncPattern(this.encryptedVc!, VC_SYNC_WINDOW, 'ENCRYPT(VC)')
    if (at === undefined) return false
    this.discard(at) // PadB
    this.decryptor!.skip(VC_LENGTH)
    this.discard(VC_LENGTH)
    this.goTo('read-crypto-select')
    return true
  }

  private readCryptoSelect (): boolean {
    const fields = this.takeDecrypted(SELECT_LENGTH)
    if (!fields) return false
    const padLength = readUint16(fields, 4)
    if (padLength > MAX_PAD_LENGTH) throw this.violation('pad-too-long', `len(PadD) is ${padLength}`)
    this.cryptoSelect = readUint32(fields, 0)
    this.padDLength = padLength
    this.goTo('read-pad-d')
    return true
  }

  private readPadD (): boolean {
    const padD = this.takeDecrypted(this.padDLength)
    if (!padD) return false
    // The extension first: when it proves tampering, that is the error to report (and the peer is one
    // of ours), even where the select check below would also refuse.
    const confirmation = this.extension ? readConfirmation(this.provider, this.extensionKey!, padD, this.offerTag) : undefined
    if (confirmation) this.checkConfirmation(confirmation)
    if (!isAcceptableSelect(this.cryptoProvide, this.cryptoSelect)) {
      throw this.violation('method-not-offered', `peer selected method 0x${this.cryptoSelect.toString(16)}, we provided 0x${this.cryptoProvide.toString(16)}`)
    }
    this.finish({
      cryptoProvide: this.cryptoProvide,
      cryptoSelect: this.cryptoSelect,
      aes: confirmation !== undefined && (confirmation.flags & CONFIRM_AES_128_CTR) !== 0,
      peerExtension: confirmation !== undefined,
      initialPayloadLength: this.initialPayload.length,
      peerHashedUnpaddedSecret: false
    })
    return false
  }

  /**
   * A verified confirmation says what the responder received and sent. Any difference from what we sent
   * and received was made in transit; so is a missing "offer verified" when we sent an offer.
   */
  private checkConfirmation (c: Confirmation): void {
    const hex = (n: number): string => `0x${n.toString(16)}`
    if (c.provide !== this.cryptoProvide) {
      throw this.violation('negotiation-tampered', `crypto_provide changed in transit: we sent ${hex(this.cryptoProvide)}, the peer received ${hex(c.provide)}`)
    }
    if (c.select !== this.cryptoSelect) {
      throw this.violation('negotiation-tampered', `crypto_select changed in transit: the peer sent ${hex(c.select)}, we received ${hex(this.cryptoSelect)}`)
    }
    if (this.offerTag && (c.flags & CONFIRM_OFFER_VERIFIED) === 0) {
      throw this.violation('negotiation-tampered', 'our extension offer in PadC did not reach the peer intact')
    }
    const aesOffered = this.aes && (this.cryptoProvide & CRYPTO_RC4) !== 0 && this.offerTag !== undefined
    if ((c.flags & CONFIRM_AES_128_CTR) !== 0 && (!aesOffered || c.select !== CRYPTO_RC4)) {
      throw this.violation('method-not-offered', 'peer accepted AES-128-CTR, which we did not offer for this select')
    }
  }
}

function checkInitialPayload (payload: Uint8Array): Uint8Array {
  if (payload.length !== 0 && payload.length !== BITTORRENT_HANDSHAKE_LENGTH) {
    throw new RangeError(`IA must be empty or the ${BITTORRENT_HANDSHAKE_LENGTH}-byte BitTorrent handshake, got ${payload.length} bytes`)
  }
  return payload
}
