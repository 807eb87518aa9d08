/**
 * What the fuzzer holds the handshake to, besides "never throws":
 * - a success is re-derived from the bytes the peer sent, with the reference primitives: the key is the one
 *   the peer sent, HASH('req1', S) / ENCRYPT(VC) lies within the spec's window, the VC decrypts to zeros, the
 *   SKEY, methods, lengths and payload are what those bytes say. No success on garbage without sync and VC;
 * - the bytes the side under test sent are well formed too (its flight 2 or 3 and 4);
 * - its receive buffer stays within what the current stage may need (the spec's windows and lengths).
 */
import {
  CRYPTO_PLAINTEXT, CRYPTO_RC4, HASH_LENGTH, KEY_LENGTH, MAX_PAD_LENGTH, PLAINTEXT_PROTOCOL_HEADER, REQ1_SYNC_WINDOW,
  VC_LENGTH, VC_SYNC_WINDOW, type EncryptionPolicy, type HandshakeResult, type HandshakeStage
} from '../../src/index.js'
import { RefRc4, concat, hex, sha1, xor } from 'test-support'
import { FUZZ_INFO_HASH, type PoolEntry } from './pool.js'
import type { Role } from './shapes.js'

/** An invariant the handshake broke. */
export class Violation extends Error {
  override readonly name = 'Violation'
}

export function check (condition: boolean, message: string): asserts condition {
  if (!condition) throw new Violation(message)
}

function same (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0
}

function indexOf (haystack: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle, from)
}

function u32At (bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

function u16At (bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!
}

/** The policy table of the README, written out again: what a responder selects from crypto_provide. */
export function expectedSelect (policy: EncryptionPolicy, provide: number): number | undefined {
  const rc4 = (provide & CRYPTO_RC4) !== 0
  const plaintext = (provide & CRYPTO_PLAINTEXT) !== 0
  if (policy === 'required') return rc4 ? CRYPTO_RC4 : undefined
  if (policy === 'preferred') return rc4 ? CRYPTO_RC4 : plaintext ? CRYPTO_PLAINTEXT : undefined
  if (policy === 'tolerated') return plaintext ? CRYPTO_PLAINTEXT : rc4 ? CRYPTO_RC4 : undefined
  return undefined
}

/** What an initiator offers under a policy. */
export function expectedProvide (policy: EncryptionPolicy): number {
  return policy === 'required' ? CRYPTO_RC4 : CRYPTO_RC4 | CRYPTO_PLAINTEXT
}

function methodOf (select: number): HandshakeResult['method'] {
  return select === CRYPTO_RC4 ? 'rc4' : 'plaintext-after-mse'
}

const CRYPTO_HEADER = VC_LENGTH + 4 + 2

/**
 * Largest receive buffer a stage may hold while it waits for more bytes: less than the key; the rest of the
 * req1 window plus the req2 hash (responder) or the rest of the VC window (initiator); the crypto header with
 * the longest pad (and IA, whose bound is the responder's setting). Unknown stages get the role's largest.
 */
export function bufferBound (role: Role, stage: HandshakeStage, maxInitialPayload: number): number {
  const bounds: Partial<Record<HandshakeStage, number>> = role === 'responder'
    ? {
        'peer-key': KEY_LENGTH - 1,
        sync: REQ1_SYNC_WINDOW + HASH_LENGTH - KEY_LENGTH - 1,
        'crypto-header': CRYPTO_HEADER + MAX_PAD_LENGTH + 2 + maxInitialPayload - 1
      }
    : {
        'peer-key': KEY_LENGTH - 1,
        sync: VC_SYNC_WINDOW - KEY_LENGTH - 1,
        'crypto-header': 4 + 2 + MAX_PAD_LENGTH - 1
      }
  return bounds[stage] ?? Math.max(...Object.values(bounds))
}

/** Most bytes a side sends during the handshake: key and pad, then its later flight with the longest pad. */
export function sendBound (role: Role): number {
  const first = KEY_LENGTH + MAX_PAD_LENGTH
  return role === 'responder'
    ? first + CRYPTO_HEADER + MAX_PAD_LENGTH
    : first + 2 * HASH_LENGTH + CRYPTO_HEADER + MAX_PAD_LENGTH + 2 + 68
}

/** A responder's success against what the initiator actually sent (`delivered`) and what it answered (`sent`). */
export function checkResponderSuccess (result: HandshakeResult, delivered: Uint8Array, sent: Uint8Array,
  policy: EncryptionPolicy, maxInitialPayload: number, entry: PoolEntry): void {
  check(result.role === 'responder', `result.role is ${result.role}`)
  if (result.method === 'plaintext') {
    check(policy !== 'required', 'plaintext handshake accepted under "required"')
    check(same(delivered.subarray(0, PLAINTEXT_PROTOCOL_HEADER.length), PLAINTEXT_PROTOCOL_HEADER), 'plaintext accepted without the BitTorrent header')
    check(same(result.payload, delivered), 'plaintext payload is not every byte received')
    check(sent.length === 0, 'sent bytes on a plaintext connection')
    return
  }
  check(policy !== 'disabled', 'MSE accepted under "disabled"')
  check(same(delivered.subarray(0, KEY_LENGTH), entry.peerKey), 'success with a key other than the one the peer sent (S unknown to the peer)')
  const s = entry.secret
  const at = indexOf(delivered, sha1('req1', s), KEY_LENGTH)
  check(at >= 0, "success without HASH('req1', S)")
  check(at + HASH_LENGTH <= REQ1_SYNC_WINDOW, `success with HASH('req1', S) ending at ${at + HASH_LENGTH}, past the ${REQ1_SYNC_WINDOW}-byte window`)
  let pos = at + HASH_LENGTH
  check(same(xor(delivered.subarray(pos, pos + HASH_LENGTH), sha1('req3', s)), sha1('req2', FUZZ_INFO_HASH)), 'success with a SKEY hash we do not serve')
  pos += HASH_LENGTH
  const rc4 = new RefRc4(sha1('keyA', s, FUZZ_INFO_HASH), 1024)
  const header = rc4.crypt(delivered.subarray(pos, pos + CRYPTO_HEADER))
  check(header.length === CRYPTO_HEADER, 'success before the crypto header arrived')
  check(header.subarray(0, VC_LENGTH).every(b => b === 0), 'success with a VC that does not decrypt to zeros')
  const provide = u32At(header, VC_LENGTH)
  const padLength = u16At(header, VC_LENGTH + 4)
  check(padLength <= MAX_PAD_LENGTH, `success with len(PadC) = ${padLength}`)
  pos += CRYPTO_HEADER
  rc4.crypt(delivered.subarray(pos, pos + padLength))
  pos += padLength
  const iaField = rc4.crypt(delivered.subarray(pos, pos + 2))
  check(iaField.length === 2, 'success before len(IA) arrived')
  const iaLength = u16At(iaField, 0)
  check(iaLength <= maxInitialPayload, `success with len(IA) = ${iaLength} above ${maxInitialPayload}`)
  pos += 2
  const ia = rc4.crypt(delivered.subarray(pos, pos + iaLength))
  check(ia.length === iaLength, 'success before IA arrived')
  pos += iaLength
  const select = expectedSelect(policy, provide)
  check(select !== undefined, `success although policy ${policy} accepts nothing of provide 0x${provide.toString(16)}`)
  check(result.cryptoProvide === provide && result.cryptoSelect === select && result.method === methodOf(select),
    `result says provide ${result.cryptoProvide} select ${result.cryptoSelect} ${result.method}; the bytes say ${provide} ${select}`)
  check(result.infoHash !== undefined && same(result.infoHash, FUZZ_INFO_HASH), 'result.infoHash is not the SKEY sent')
  check(result.initialPayloadLength === iaLength, `result.initialPayloadLength ${result.initialPayloadLength}, len(IA) ${iaLength}`)
  const rest = delivered.subarray(pos)
  const payload = concat(ia, select === CRYPTO_RC4 ? rc4.crypt(rest) : rest)
  check(same(result.payload, payload), `payload ${hex(result.payload).slice(0, 64)}… differs from the peer's ${hex(payload).slice(0, 64)}…`)
  check(result.handshakeBytesReceived === delivered.length - payload.length,
    `handshakeBytesReceived ${result.handshakeBytesReceived} for ${delivered.length - payload.length} handshake bytes`)

  // Flight 2 and 4 as sent: our key, then ENCRYPT(VC, crypto_select, len(PadD), PadD) within the window.
  check(same(sent.subarray(0, KEY_LENGTH), entry.ownKey), 'flight 2 does not start with our key')
  const out = new RefRc4(sha1('keyB', s, FUZZ_INFO_HASH), 1024)
  const vcAt = indexOf(sent, out.crypt(new Uint8Array(VC_LENGTH)), KEY_LENGTH)
  check(vcAt >= 0 && vcAt + VC_LENGTH <= VC_SYNC_WINDOW, `ENCRYPT(VC) sent at ${vcAt}, outside the ${VC_SYNC_WINDOW}-byte window`)
  const fields = out.crypt(sent.subarray(vcAt + VC_LENGTH, vcAt + CRYPTO_HEADER))
  check(u32At(fields, 0) === select, `flight 4 selects ${u32At(fields, 0)}, result says ${select}`)
  const padD = u16At(fields, 4)
  check(padD <= MAX_PAD_LENGTH && sent.length === vcAt + CRYPTO_HEADER + padD, `flight 4 has len(PadD) ${padD} and ${sent.length - vcAt - CRYPTO_HEADER} pad bytes`)
}

/** An initiator's success against what the responder actually sent (`delivered`) and what it sent itself. */
export function checkInitiatorSuccess (result: HandshakeResult, delivered: Uint8Array, sent: Uint8Array, flight1Length: number,
  policy: EncryptionPolicy, ia: Uint8Array, entry: PoolEntry): void {
  check(result.role === 'initiator', `result.role is ${result.role}`)
  check(result.method !== 'plaintext', 'an initiator reported a plaintext connection')
  check(same(delivered.subarray(0, KEY_LENGTH), entry.peerKey), 'success with a key other than the one the peer sent')
  const s = entry.secret
  const rc4 = new RefRc4(sha1('keyB', s, FUZZ_INFO_HASH), 1024)
  const at = indexOf(delivered, rc4.crypt(new Uint8Array(VC_LENGTH)), KEY_LENGTH)
  check(at >= 0, 'success without ENCRYPT(VC)')
  check(at + VC_LENGTH <= VC_SYNC_WINDOW, `success with ENCRYPT(VC) ending at ${at + VC_LENGTH}, past the ${VC_SYNC_WINDOW}-byte window`)
  let pos = at + VC_LENGTH
  const fields = rc4.crypt(delivered.subarray(pos, pos + 6))
  check(fields.length === 6, 'success before crypto_select arrived')
  const select = u32At(fields, 0)
  const padLength = u16At(fields, 4)
  const provide = expectedProvide(policy)
  check((select === CRYPTO_RC4 || select === CRYPTO_PLAINTEXT) && (select & provide) !== 0,
    `success with crypto_select 0x${select.toString(16)} for provide 0x${provide.toString(16)}`)
  check(padLength <= MAX_PAD_LENGTH, `success with len(PadD) = ${padLength}`)
  pos += 6
  check(delivered.length >= pos + padLength, 'success before PadD arrived')
  rc4.crypt(delivered.subarray(pos, pos + padLength))
  pos += padLength
  const rest = delivered.subarray(pos)
  check(result.cryptoSelect === select && result.cryptoProvide === provide && result.method === methodOf(select),
    `result says provide ${result.cryptoProvide} select ${result.cryptoSelect} ${result.method}; the bytes say ${provide} ${select}`)
  check(result.infoHash !== undefined && same(result.infoHash, FUZZ_INFO_HASH), 'result.infoHash is not our SKEY')
  check(same(result.payload, select === CRYPTO_RC4 ? rc4.crypt(rest) : rest), 'payload differs from the peer\'s')
  check(result.initialPayloadLength === ia.length, `initialPayloadLength ${result.initialPayloadLength}, IA was ${ia.length}`)

  // Flight 3 as sent: the hashes, then ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA).
  check(same(sent.subarray(0, KEY_LENGTH), entry.ownKey), 'flight 1 does not start with our key')
  check(flight1Length <= KEY_LENGTH + MAX_PAD_LENGTH, `flight 1 is ${flight1Length} bytes`)
  const f3 = sent.subarray(flight1Length)
  check(same(f3.subarray(0, HASH_LENGTH), sha1('req1', s)), "flight 3 does not start with HASH('req1', S)")
  check(same(xor(f3.subarray(HASH_LENGTH, 2 * HASH_LENGTH), sha1('req3', s)), sha1('req2', FUZZ_INFO_HASH)), 'flight 3 carries the wrong SKEY hash')
  const out = new RefRc4(sha1('keyA', s, FUZZ_INFO_HASH), 1024)
  const header = out.crypt(f3.subarray(2 * HASH_LENGTH))
  check(header.subarray(0, VC_LENGTH).every(b => b === 0), 'flight 3 VC is not zero')
  check(u32At(header, VC_LENGTH) === provide, `flight 3 provides 0x${u32At(header, VC_LENGTH).toString(16)}`)
  const padC = u16At(header, VC_LENGTH + 4)
  check(padC <= MAX_PAD_LENGTH, `flight 3 len(PadC) ${padC}`)
  const iaAt = CRYPTO_HEADER + padC
  check(u16At(header, iaAt) === ia.length && same(header.subarray(iaAt + 2), ia), 'flight 3 IA differs from the one given')
}
