/** Small helpers over Uint8Array; Buffer is never required so the core runs anywhere. */

const textEncoder = new TextEncoder()

export function ascii (text: string): Uint8Array {
  return textEncoder.encode(text)
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Constant-time comparison (its time does not depend on where the bytes differ): for MAC tags. */
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** Index of `needle` in `haystack[from, to)`, or -1. */
export function indexOfBytes (haystack: Uint8Array, needle: Uint8Array, from = 0, to = haystack.length): number {
  const last = Math.min(to, haystack.length) - needle.length
  for (let i = from; i <= last; i++) {
    if (haystack[i] === needle[0] && occursAt(haystack, needle, i)) return i
  }
  return -1
}

function occursAt (haystack: Uint8Array, needle: Uint8Array, at: number): boolean {
  for (let k = 1; k < needle.length; k++) {
    if (haystack[at + k] !== needle[k]) return false
  }
  return true
}

export function xorBytes (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

export function readUint16 (bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!
}

export function readUint32 (bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0
}

export function uint16 (value: number): Uint8Array {
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff)
}

export function uint32 (value: number): Uint8Array {
  return Uint8Array.of((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff)
}

export function toHex (bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += bytes[i]!.toString(16).padStart(2, '0')
  return out
}

export function fromHex (hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) throw new TypeError('invalid hex string')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** Left-pads a big-endian number to `length` bytes (Ya, Yb and S are always 96 bytes). */
export function leftPad (bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length === length) return bytes
  if (bytes.length > length) {
    // Leading zero bytes beyond the width are harmless; anything else is a bug.
    const extra = bytes.length - length
    for (let i = 0; i < extra; i++) if (bytes[i] !== 0) throw new RangeError('number wider than its field')
    return bytes.subarray(extra)
  }
  const out = new Uint8Array(length)
  out.set(bytes, length - bytes.length)
  return out
}

export function bytesToBigInt (bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + toHex(bytes))
}
