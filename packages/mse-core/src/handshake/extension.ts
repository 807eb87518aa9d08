/**
 * The negotiation extension of this project (spec: docs/mse-extension.md), carried at the start of PadC
 * and PadD. The MSE spec reserves both pads for extensions; every other client decrypts and ignores them.
 *
 *   PadC starts with the offer (13 bytes):
 *     offer flags (1) | crypto_provide as sent (4) | tag (8)
 *     tag = HMAC-SHA-256(K, "offer" | flags | provide | len(PadC) | len(IA))[0..8]
 *   PadD starts with the confirmation (17 bytes):
 *     confirm flags (1) | crypto_provide as received (4) | crypto_select as sent (4) | tag (8)
 *     tag = HMAC-SHA-256(K, "confirm" | flags | provide | select | len(PadD) | offer tag or 8 zeros)[0..8]
 *   K = HMAC-SHA-256(S, "webtorrent-mse extension 1" | SKEY)
 *
 * A block is recognised only by its tag: without S nobody can tell it from the zeros or random bytes other
 * clients put in their pads, and it is RC4-encrypted on the wire anyway.
 */
import { ascii, bytesEqual, concatBytes, readUint32, uint16, uint32 } from '../bytes.js'
import type { CryptoProvider } from '../crypto/provider.js'

const KEY_LABEL = ascii('webtorrent-mse extension 1')
const OFFER_LABEL = ascii('offer')
const CONFIRM_LABEL = ascii('confirm')

/** HMAC-SHA-256 truncated to 64 bits: forging one is a 2^-64 guess per connection, made on-path in real time. */
export const EXTENSION_TAG_LENGTH = 8
export const OFFER_LENGTH = 1 + 4 + EXTENSION_TAG_LENGTH
export const CONFIRM_LENGTH = 1 + 4 + 4 + EXTENSION_TAG_LENGTH

/** Offer flag: the initiator can switch its payload to AES-128-CTR. */
export const OFFER_AES_128_CTR = 0x01
/** Confirm flag: the responder accepted AES-128-CTR; both payload streams switch. */
export const CONFIRM_AES_128_CTR = 0x01
/** Confirm flag: the responder verified the initiator's offer tag. */
export const CONFIRM_OFFER_VERIFIED = 0x02

const NO_OFFER_TAG = new Uint8Array(EXTENSION_TAG_LENGTH)

export interface Offer {
  flags: number
  /** crypto_provide as the initiator sent it. */
  provide: number
  tag: Uint8Array
}

export interface Confirmation {
  flags: number
  /** crypto_provide as the responder received it. */
  provide: number
  /** crypto_select as the responder sent it. */
  select: number
}

/** The extension key K of one connection: bound to S (fresh per connection) and to the torrent. */
export function extensionKey (provider: CryptoProvider, secret: Uint8Array, skey: Uint8Array): Uint8Array {
  return provider.hmacSha256(secret, KEY_LABEL, skey)
}

function offerTag (provider: CryptoProvider, key: Uint8Array, flags: number, provide: number, padLength: number, iaLength: number): Uint8Array {
  return provider.hmacSha256(key, OFFER_LABEL, Uint8Array.of(flags), uint32(provide), uint16(padLength), uint16(iaLength))
    .subarray(0, EXTENSION_TAG_LENGTH)
}

function confirmTag (provider: CryptoProvider, key: Uint8Array, c: Confirmation, padLength: number, offer: Uint8Array): Uint8Array {
  return provider.hmacSha256(key, CONFIRM_LABEL, Uint8Array.of(c.flags), uint32(c.provide), uint32(c.select), uint16(padLength), offer)
    .subarray(0, EXTENSION_TAG_LENGTH)
}

/** PadC of `padLength` bytes: the offer first when it fits, zeros after ("should be zeroed"). */
export function encodeOffer (provider: CryptoProvider, key: Uint8Array, flags: number, provide: number, padLength: number, iaLength: number): { pad: Uint8Array, tag?: Uint8Array } {
  const pad = new Uint8Array(padLength)
  if (padLength < OFFER_LENGTH) return { pad }
  const tag = offerTag(provider, key, flags, provide, padLength, iaLength)
  pad.set(concatBytes(Uint8Array.of(flags), uint32(provide), tag))
  return { pad, tag }
}

/** The offer at the start of a received PadC, if its tag verifies; undefined for any other pad. */
export function readOffer (provider: CryptoProvider, key: Uint8Array, pad: Uint8Array, iaLength: number): Offer | undefined {
  if (pad.length < OFFER_LENGTH) return undefined
  const flags = pad[0]!
  const provide = readUint32(pad, 1)
  const tag = pad.slice(5, OFFER_LENGTH)
  const expected = offerTag(provider, key, flags, provide, pad.length, iaLength)
  return bytesEqual(tag, expected) ? { flags, provide, tag } : undefined
}

/** PadD of `padLength` bytes: the confirmation first when it fits, zeros after. */
export function encodeConfirmation (provider: CryptoProvider, key: Uint8Array, c: Confirmation, padLength: number, offer: Offer | undefined): Uint8Array {
  const pad = new Uint8Array(padLength)
  if (padLength < CONFIRM_LENGTH) return pad
  const tag = confirmTag(provider, key, c, padLength, offer?.tag ?? NO_OFFER_TAG)
  pad.set(concatBytes(Uint8Array.of(c.flags), uint32(c.provide), uint32(c.select), tag))
  return pad
}

/**
 * The confirmation at the start of a received PadD, if its tag verifies. `sentOfferTag` is the tag of the
 * offer we sent, if any: the responder binds its answer to it when it says it verified it.
 */
export function readConfirmation (provider: CryptoProvider, key: Uint8Array, pad: Uint8Array, sentOfferTag: Uint8Array | undefined): Confirmation | undefined {
  if (pad.length < CONFIRM_LENGTH) return undefined
  const c: Confirmation = { flags: pad[0]!, provide: readUint32(pad, 1), select: readUint32(pad, 5) }
  const offer = (c.flags & CONFIRM_OFFER_VERIFIED) !== 0 && sentOfferTag ? sentOfferTag : NO_OFFER_TAG
  const expected = confirmTag(provider, key, c, pad.length, offer)
  return bytesEqual(pad.subarray(9, CONFIRM_LENGTH), expected) ? c : undefined
}
