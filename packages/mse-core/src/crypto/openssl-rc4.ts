import { createCipheriv } from 'node:crypto'
import { RC4_DISCARD } from '../constants.js'
import { LibraryCipher } from './library-cipher.js'

let available: boolean | undefined

/**
 * Whether OpenSSL's RC4 is usable in this process. Node 17+ keeps RC4 in OpenSSL's legacy provider, which
 * is loaded only with `--openssl-legacy-provider` (or an OpenSSL config that activates it).
 */
export function isOpensslRc4Available (): boolean {
  if (available === undefined) {
    try {
      createCipheriv('rc4', new Uint8Array(16), null).update(new Uint8Array(1))
      available = true
    } catch {
      available = false
    }
  }
  return available
}

/**
 * OpenSSL's RC4 (hand-written assembly on x86-64 and ARM): faster than any JavaScript loop on 16 KiB
 * piece blocks. Same keystream and buffer contract as the JavaScript `Rc4`. RC4 cannot seek: a keystream
 * at a position is the stream replayed from the key schedule (`discard` bytes, then `position`).
 */
/** The input that discards the spec's first 1024 keystream bytes: read by OpenSSL, never written, so shared. */
const DISCARD_INPUT = new Uint8Array(RC4_DISCARD)

export class OpensslRc4 extends LibraryCipher {
  constructor (key: Uint8Array, discard = RC4_DISCARD) {
    const ownKey = key.slice()
    super('rc4', 'openssl', position => {
      const cipher = createCipheriv('rc4', ownKey, null)
      const skipped = discard + position
      if (skipped > 0) cipher.update(skipped === RC4_DISCARD ? DISCARD_INPUT : new Uint8Array(skipped))
      return cipher
    })
  }
}
