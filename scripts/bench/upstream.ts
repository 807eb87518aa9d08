/**
 * bittorrent-protocol 5 as the bench reaches it. The package exports only index.js, so mse.js is imported
 * by file URL (the same URL index.js imports, hence the same module instance). The package ships no types:
 * the few members used are declared here.
 */
import { readFileSync } from 'node:fs'

export interface UpstreamEncryptor {
  S: Uint8Array | null
  skeyHex: string | null
  _isEncrypted: boolean
  /** Getter: creates createDiffieHellman(P, 'hex', 2) on first use, i.e. once per connection. */
  readonly dh: { generateKeys (): Uint8Array, computeSecret (key: Uint8Array): Uint8Array }
  _initializeCiphers (party: 'A' | 'B'): void
  /** What Wire._push calls for every outgoing chunk. */
  encrypt (data: Uint8Array): Uint8Array
}

export interface UpstreamMseModule {
  /** true when Node's crypto has RC4 (legacy provider): then createRC4Cipher uses it, not the JS fallback. */
  nativeRC4: boolean
  MessageStreamEncryptor: new (wire: null) => UpstreamEncryptor
}

export interface UpstreamWire {
  once (event: string, listener: (...args: any[]) => void): this
  pipe<T> (destination: T): T
  destroy (): void
  startEncryption (infoHashHex: string): void
  setInfoHash (infoHashHex: string): void
  handshake (infoHash: string, peerId: Uint8Array): void
  readonly _encryptionMethod: number | null | undefined
}
export type UpstreamWireConstructor = new (type: string, peEnabled: number) => UpstreamWire

const indexUrl = import.meta.resolve('bittorrent-protocol')

export const upstreamVersion: string =
  (JSON.parse(readFileSync(new URL('./package.json', indexUrl), 'utf8')) as { version: string }).version

export async function loadUpstreamMse (): Promise<UpstreamMseModule> {
  return await import(new URL('./mse.js', indexUrl).href) as UpstreamMseModule
}

export async function loadUpstreamWire (): Promise<UpstreamWireConstructor> {
  // By the resolved URL, like mse.js: the same module instance as the bare name, typed by the shape above
  // rather than by the shared declaration in types/, which the bench's narrower view does not overlap.
  const module = await import(indexUrl) as { default: UpstreamWireConstructor }
  return module.default
}
