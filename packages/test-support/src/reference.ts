/**
 * Independent reference primitives for the tests: nothing here imports the package under test.
 * - P is typed in again from the MSE notes (so a typo in src/constants.ts is caught).
 * - modPow is plain square-and-multiply over BigInt.
 * - SHA-1 is node:crypto createHash.
 * - RC4 is the textbook byte-at-a-time algorithm.
 */
import { createHash } from 'node:crypto'

export const P_HEX =
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563'
export const P = BigInt('0x' + P_HEX)
export const G = 2n

export function modPow (base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n
  let b = base % modulus
  let e = exponent
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus
    b = (b * b) % modulus
    e >>= 1n
  }
  return result
}

export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function unhex (text: string): Uint8Array {
  if (text.length % 2 !== 0 || /[^0-9a-f]/i.test(text)) throw new Error(`bad hex: ${text}`)
  return new Uint8Array(Buffer.from(text, 'hex'))
}

export function toBig (bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + hex(bytes))
}

/** Big-endian, left-padded to `length` bytes. */
export function fromBig (value: bigint, length = 96): Uint8Array {
  const text = value.toString(16).padStart(length * 2, '0')
  if (text.length > length * 2) throw new RangeError('value wider than field')
  return unhex(text)
}

export function refPublicKey (privateKey: Uint8Array): Uint8Array {
  return fromBig(modPow(G, toBig(privateKey), P))
}

export function refSecret (privateKey: Uint8Array, peerKey: Uint8Array): Uint8Array {
  return fromBig(modPow(toBig(peerKey), toBig(privateKey), P))
}

export function sha1 (...parts: (Uint8Array | string)[]): Uint8Array {
  const h = createHash('sha1')
  for (const part of parts) h.update(typeof part === 'string' ? Buffer.from(part, 'latin1') : part)
  return new Uint8Array(h.digest())
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

export function u16 (n: number): Uint8Array {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff)
}

export function u32 (n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
}

export function xor (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/** Textbook RC4, one byte per step. */
export class RefRc4 {
  private readonly s = new Uint8Array(256)
  private i = 0
  private j = 0

  constructor (key: Uint8Array, discard = 0) {
    const s = this.s
    for (let k = 0; k < 256; k++) s[k] = k
    let j = 0
    for (let k = 0; k < 256; k++) {
      j = (j + s[k]! + key[k % key.length]!) & 0xff
      const t = s[k]!
      s[k] = s[j]!
      s[j] = t
    }
    for (let k = 0; k < discard; k++) this.nextByte()
  }

  nextByte (): number {
    this.i = (this.i + 1) & 0xff
    this.j = (this.j + this.s[this.i]!) & 0xff
    const t = this.s[this.i]!
    this.s[this.i] = this.s[this.j]!
    this.s[this.j] = t
    return this.s[(this.s[this.i]! + this.s[this.j]!) & 0xff]!
  }

  keystream (length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let k = 0; k < length; k++) out[k] = this.nextByte()
    return out
  }

  crypt (data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length)
    for (let k = 0; k < data.length; k++) out[k] = data[k]! ^ this.nextByte()
    return out
  }
}

/** MSE's RC4 streams for a secret and SKEY: A encrypts with keyA, B with keyB; 1024 bytes discarded. */
export function refStreams (secret: Uint8Array, skey: Uint8Array): { aToB: RefRc4, bToA: RefRc4 } {
  return {
    aToB: new RefRc4(sha1('keyA', secret, skey), 1024),
    bToA: new RefRc4(sha1('keyB', secret, skey), 1024)
  }
}
