import { ascii, fromHex, toHex } from './bytes.js'
import { HASH_LENGTH } from './constants.js'
import { nodeCryptoProvider } from './crypto/node-provider.js'
import type { CryptoProvider } from './crypto/provider.js'

const REQ2 = ascii('req2')

/** What a responder needs: from HASH('req2', SKEY) to the SKEY (info hash), or undefined. */
export interface SkeyLookup {
  lookup (req2Hash: Uint8Array): Uint8Array | undefined
}

/**
 * SKEY for an info hash: the 20-byte v1 info hash as is; a v2 SHA-256 info hash truncated to 20 bytes.
 */
export function skeyFromInfoHash (infoHash: Uint8Array | string): Uint8Array {
  const bytes = typeof infoHash === 'string' ? fromHex(infoHash) : infoHash
  if (bytes.length === HASH_LENGTH) return bytes
  if (bytes.length === 32) return bytes.slice(0, HASH_LENGTH)
  throw new RangeError(`info hash must be 20 (v1) or 32 (v2) bytes, got ${bytes.length}`)
}

/**
 * O(1) SKEY lookup over any number of torrents: a map keyed by HASH('req2', SKEY). The caller adds and
 * removes torrents while connections are running (including magnets still fetching metadata: only the
 * info hash is needed).
 */
export class SkeyRegistry implements SkeyLookup {
  private readonly byReq2 = new Map<string, Uint8Array>()
  private readonly provider: CryptoProvider

  constructor (provider: CryptoProvider = nodeCryptoProvider) {
    this.provider = provider
  }

  get size (): number {
    return this.byReq2.size
  }

  add (infoHash: Uint8Array | string): void {
    const skey = skeyFromInfoHash(infoHash)
    this.byReq2.set(this.keyOf(skey), skey.slice())
  }

  delete (infoHash: Uint8Array | string): boolean {
    return this.byReq2.delete(this.keyOf(skeyFromInfoHash(infoHash)))
  }

  has (infoHash: Uint8Array | string): boolean {
    return this.byReq2.has(this.keyOf(skeyFromInfoHash(infoHash)))
  }

  /** A copy of the SKEY: callers may keep or change it without touching the registry. */
  lookup (req2Hash: Uint8Array): Uint8Array | undefined {
    return this.byReq2.get(toHex(req2Hash))?.slice()
  }

  private keyOf (skey: Uint8Array): string {
    return toHex(this.provider.sha1(REQ2, skey))
  }
}
