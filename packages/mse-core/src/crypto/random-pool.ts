import { randomFillSync } from 'node:crypto'

/**
 * CSPRNG bytes for the handshake from a refilled pool. A handshake asks for a few small pieces (a 20-byte
 * private key, pad lengths, pads of 0..512 bytes), and each randomBytes() call is an OpenSSL job of its own
 * (a profile of the load bench put ~3% of a responder's time there); one randomFillSync() per pool serves
 * several handshakes. Every byte is handed out once (copied out, never shared), as node's own randomInt()
 * pools its random bytes.
 */
const POOL_BYTES = 4096

export class RandomPool {
  private readonly pool = new Uint8Array(POOL_BYTES)
  private offset = POOL_BYTES

  take (length: number): Uint8Array {
    // A request larger than the pool (none in MSE) gets bytes of its own.
    if (length > POOL_BYTES) return randomFillSync(new Uint8Array(length))
    if (this.offset + length > POOL_BYTES) {
      randomFillSync(this.pool)
      this.offset = 0
    }
    const out = this.pool.slice(this.offset, this.offset + length)
    this.offset += length
    return out
  }
}
