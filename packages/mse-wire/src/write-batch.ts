import type { StreamCipher } from 'mse-core'

/**
 * The most payload bytes one cipher call covers when a batch of small writes is joined. OpenSSL writes
 * every result to new memory, and on these machines a call costs about the same per byte from 16 KiB to
 * 64 KiB, more above (fresh pages) and far more per byte below (the fixed cost of a call and its buffer):
 * a message header and its 16 KiB block, or a burst of requests, go through in one call, one socket write.
 */
export const BATCH_RUN_BYTES = 64 * 1024

/**
 * Joined runs are copied here first; the cipher reads it and writes new memory. One buffer serves every
 * stream: `sealBatch` is synchronous and nothing keeps a view of it.
 */
const scratch = new Uint8Array(BATCH_RUN_BYTES)

/**
 * `chunks` (writes in order) encrypted as one keystream run, cut into pieces of at most BATCH_RUN_BYTES
 * (a larger chunk is a piece of its own). Never touches the chunks: the writer still owns them (see
 * `StreamCipher.process`). Without a cipher (plaintext), the chunks themselves.
 */
export function sealBatch (cipher: StreamCipher | undefined, chunks: readonly Uint8Array[]): Uint8Array[] {
  if (!cipher) return chunks as Uint8Array[]
  const out: Uint8Array[] = []
  let start = 0
  while (start < chunks.length) {
    let end = start + 1
    let length = chunks[start]!.length
    while (end < chunks.length && length + chunks[end]!.length <= BATCH_RUN_BYTES) length += chunks[end++]!.length
    if (end - start === 1) {
      out.push(cipher.process(chunks[start]!))
    } else {
      let offset = 0
      for (let i = start; i < end; i++) {
        scratch.set(chunks[i]!, offset)
        offset += chunks[i]!.length
      }
      out.push(cipher.process(scratch.subarray(0, length)))
    }
    start = end
  }
  return out
}
