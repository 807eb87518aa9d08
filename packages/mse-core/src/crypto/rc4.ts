import { RC4_DISCARD } from '../constants.js'
import type { StreamCipher } from './stream-cipher.js'

/** The word loop assumes little-endian memory order; elsewhere only the byte loop runs. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1

/**
 * RC4 keystream in portable JavaScript, as MSE uses it: key schedule, then the first 1024 keystream bytes
 * discarded. (`OpensslRc4` is the other backend; `CryptoProvider.createRc4` picks one.)
 *
 * Buffer contract:
 * - `process(input)` never writes `input`; it returns a new buffer. Use it for bytes the caller still owns
 *   (bittorrent-protocol 5.0.8 fixed a bug where in-place RC4 scrambled webtorrent's live bitfield).
 * - `processInPlace(buffer)` overwrites `buffer`. Use it only for buffers that were handed over, such as a
 *   freshly read socket chunk nobody else holds.
 *
 * Speed: the hot loop produces four keystream bytes and XORs them as one 32-bit word, which is what reaches
 * OpenSSL's native RC4 in V8 (see `npm run bench`). The loop exists once, in `xorKeystream`.
 */
export class Rc4 implements StreamCipher {
  readonly algorithm = 'rc4'
  readonly backend = 'js'
  private state: Uint8Array
  private i = 0
  private j = 0

  constructor (key: Uint8Array, discard = RC4_DISCARD) {
    if (key.length === 0 || key.length > 256) throw new RangeError('RC4 key must be 1..256 bytes')
    const s = new Uint8Array(256)
    for (let k = 0; k < 256; k++) s[k] = k
    let j = 0
    for (let k = 0; k < 256; k++) {
      const t = s[k]!
      j = (j + t + key[k % key.length]!) & 0xff
      s[k] = s[j]!
      s[j] = t
    }
    this.state = s
    this.skip(discard)
  }

  /** Copy with the same position: used to precompute ENCRYPT(VC) without touching the live stream. */
  clone (): Rc4 {
    const copy = Object.create(Rc4.prototype) as Rc4
    copy.state = this.state.slice()
    copy.i = this.i
    copy.j = this.j
    return copy
  }

  /** Advances the keystream by `count` bytes. */
  skip (count: number): void {
    if (count <= 0) return
    const zeros = new Uint8Array(Math.min(count, 4096))
    let left = count
    while (left > 0) {
      const n = Math.min(left, zeros.length)
      this.xorKeystream(zeros.subarray(0, n), new Uint8Array(n))
      left -= n
    }
  }

  /** Returns `input` XOR keystream in a new buffer; `input` is left untouched. */
  process (input: Uint8Array): Uint8Array {
    // Give the output the same alignment modulo 4 as the input so the word loop runs on both.
    const misalignment = input.byteOffset & 3
    const output = new Uint8Array(new ArrayBuffer(input.length + misalignment), misalignment, input.length)
    this.xorKeystream(input, output)
    return output
  }

  /** XORs the keystream into `buffer` itself. Only for buffers the caller owns outright. */
  processInPlace (buffer: Uint8Array): Uint8Array {
    this.xorKeystream(buffer, buffer)
    return buffer
  }

  /** In place is cheapest here: no allocation. */
  processOwned (buffer: Uint8Array): Uint8Array {
    return this.processInPlace(buffer)
  }

  /** The one hot loop. `output` may be `input` (in place) or a buffer of the same length. */
  private xorKeystream (input: Uint8Array, output: Uint8Array): void {
    const n = input.length
    // Words need both views on a 4-byte boundary: reachable when their offsets agree modulo 4.
    const wordsPossible = LITTLE_ENDIAN && ((input.byteOffset ^ output.byteOffset) & 3) === 0
    if (!wordsPossible) {
      this.xorBytes(input, output, 0, n)
      return
    }
    const head = Math.min(n, (4 - (input.byteOffset & 3)) & 3)
    this.xorBytes(input, output, 0, head)
    const words = (n - head) >>> 2
    if (words > 0) {
      this.xorWords(new Uint32Array(input.buffer, input.byteOffset + head, words),
        new Uint32Array(output.buffer, output.byteOffset + head, words))
    }
    this.xorBytes(input, output, head + (words << 2), n)
  }

  /** One keystream byte per step, for the unaligned head and tail. */
  private xorBytes (input: Uint8Array, output: Uint8Array, from: number, to: number): void {
    const s = this.state
    let i = this.i
    let j = this.j
    for (let p = from; p < to; p++) {
      i = (i + 1) & 0xff
      const si = s[i]!
      j = (j + si) & 0xff
      const sj = s[j]!
      s[i] = sj
      s[j] = si
      output[p] = input[p]! ^ s[(si + sj) & 0xff]!
    }
    this.i = i
    this.j = j
  }

  /**
   * Four keystream bytes per step, XORed as one little-endian word (keystream byte 0 lands in the lowest
   * byte, which is first in memory). Unrolled by hand: V8 does not unroll this loop itself.
   */
  private xorWords (input: Uint32Array, output: Uint32Array): void {
    const s = this.state
    let i = this.i
    let j = this.j
    for (let w = 0; w < input.length; w++) {
      i = (i + 1) & 0xff
      let si = s[i]!
      j = (j + si) & 0xff
      let sj = s[j]!
      s[i] = sj
      s[j] = si
      let k = s[(si + sj) & 0xff]!
      i = (i + 1) & 0xff
      si = s[i]!
      j = (j + si) & 0xff
      sj = s[j]!
      s[i] = sj
      s[j] = si
      k |= s[(si + sj) & 0xff]! << 8
      i = (i + 1) & 0xff
      si = s[i]!
      j = (j + si) & 0xff
      sj = s[j]!
      s[i] = sj
      s[j] = si
      k |= s[(si + sj) & 0xff]! << 16
      i = (i + 1) & 0xff
      si = s[i]!
      j = (j + si) & 0xff
      sj = s[j]!
      s[i] = sj
      s[j] = si
      k |= s[(si + sj) & 0xff]! << 24
      output[w] = input[w]! ^ k
    }
    this.i = i
    this.j = j
  }
}
