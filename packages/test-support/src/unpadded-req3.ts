/** A hash function as a crypto provider has it (mse-core's `CryptoProvider.sha1`). */
interface Sha1Provider {
  readonly name: string
  sha1 (...parts: Uint8Array[]): Uint8Array
}

const REQ3 = new TextEncoder().encode('req3')

/**
 * `provider` with the bug of libtorrent-rasterbar <= 2.0.12 and rakshasa's libtorrent put back:
 * HASH('req3', S) is taken over S with its leading zero bytes stripped (the spec hashes all 96 bytes).
 * Every other hash is left alone. Differs from the spec only when S begins with a zero byte (1 in 256).
 */
export function withUnpaddedReq3<P extends Sha1Provider> (provider: P): P {
  return {
    ...provider,
    name: `${provider.name} with unpadded req3`,
    sha1 (...parts: Uint8Array[]): Uint8Array {
      const [label, secret] = parts
      if (parts.length === 2 && label!.length === REQ3.length && label!.every((byte, i) => byte === REQ3[i])) {
        let zeros = 0
        while (zeros < secret!.length - 1 && secret![zeros] === 0) zeros++
        return provider.sha1(label!, secret!.subarray(zeros))
      }
      return provider.sha1(...parts)
    }
  }
}
