import { BITTORRENT_HANDSHAKE_LENGTH, detectPlaintextHandshake } from 'mse-core'

export type StreamCallback = (error: Error | null) => void

/**
 * Writes made while the handshake runs. streamx hands over one batch at a time and waits for its callback
 * before the next, so holding the callback is what makes the writer feel backpressure; at most one batch
 * is ever held. The initiator may take the first 68 bytes as IA: the BitTorrent handshake then rides
 * inside flight 3 and is not written again.
 */
export class HeldWrites {
  private chunks: Uint8Array[] = []
  private callback: StreamCallback | undefined
  private bytes = 0
  /** Held bytes that already went out as IA. */
  private taken = 0

  hold (batch: Uint8Array[], callback: StreamCallback): void {
    // streamx never calls _writev again before the callback: a second batch would be a bug here.
    if (this.callback) throw new Error('a second batch of writes held before the first was released')
    this.chunks = batch
    this.callback = callback
    for (const chunk of batch) this.bytes += chunk.length
  }

  /**
   * The first 68 held bytes when they are a BitTorrent handshake (mse-core's plaintext detection on the
   * protocol header) and none were taken yet; else undefined.
   */
  bittorrentHandshake (): Uint8Array | undefined {
    if (this.taken > 0 || this.bytes < BITTORRENT_HANDSHAKE_LENGTH) return undefined
    const head = new Uint8Array(BITTORRENT_HANDSHAKE_LENGTH)
    let offset = 0
    for (const chunk of this.chunks) {
      if (offset >= head.length) break
      const n = Math.min(head.length - offset, chunk.length)
      head.set(chunk.subarray(0, n), offset)
      offset += n
    }
    return detectPlaintextHandshake(head) === 'plaintext' ? head : undefined
  }

  /** The handshake took `count` held bytes as IA. */
  take (count: number): void {
    this.taken = count
  }

  /** Hands back what is held, without the bytes taken as IA (possibly no chunk at all). */
  release (): { chunks: Uint8Array[], callback: StreamCallback } | undefined {
    const callback = this.callback
    if (!callback) return undefined
    let skip = this.taken
    const rest: Uint8Array[] = []
    for (const chunk of this.chunks) {
      if (skip < chunk.length) rest.push(skip > 0 ? chunk.subarray(skip) : chunk)
      skip = Math.max(0, skip - chunk.length)
    }
    this.clear()
    return { chunks: rest, callback }
  }

  /** The stream is gone: the held callback fails. */
  fail (error: Error): void {
    const callback = this.callback
    this.clear()
    callback?.(error)
  }

  private clear (): void {
    this.chunks = []
    this.callback = undefined
    this.bytes = 0
  }
}
