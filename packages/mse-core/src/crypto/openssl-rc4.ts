import { createCipheriv, type Cipher } from 'node:crypto'
import { RC4_DISCARD } from '../constants.js'
import type { StreamCipher } from './stream-cipher.js'

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
 * piece blocks. Same keystream and buffer contract as the JavaScript `Rc4`.
 */
export class OpensslRc4 implements StreamCipher {
  readonly algorithm = 'rc4'
  readonly backend = 'openssl'
  private readonly key: Uint8Array
  private readonly cipher: Cipher
  /** Keystream bytes consumed, discard included: what `clone()` replays. */
  private position = 0

  constructor (key: Uint8Array, discard = RC4_DISCARD) {
    this.key = key.slice()
    this.cipher = createCipheriv('rc4', this.key, null)
    this.skip(discard)
  }

  process (input: Uint8Array): Uint8Array {
    this.position += input.length
    return this.cipher.update(input)
  }

  processInPlace (buffer: Uint8Array): Uint8Array {
    buffer.set(this.process(buffer))
    return buffer
  }

  /** OpenSSL writes new memory anyway: copying back into `buffer` would only add a copy. */
  processOwned (buffer: Uint8Array): Uint8Array {
    return this.process(buffer)
  }

  skip (count: number): void {
    if (count > 0) this.process(new Uint8Array(count))
  }

  clone (): OpensslRc4 {
    const copy = new OpensslRc4(this.key, 0)
    copy.skip(this.position)
    return copy
  }
}
