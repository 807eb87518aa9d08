import { createCipheriv, createDiffieHellman, createHash, createHmac, type DiffieHellman } from 'node:crypto'
import { DH_GENERATOR, DH_PRIME_HEX, KEY_LENGTH } from '../constants.js'
import { leftPad } from '../bytes.js'
import { AesCtr, type CtrFactory } from './aes-ctr.js'
import { OpensslRc4, isOpensslRc4Available } from './openssl-rc4.js'
import type { CryptoProvider } from './provider.js'
import { RandomPool } from './random-pool.js'
import { Rc4 } from './rc4.js'

/**
 * One DH object for the whole process. Creating one costs ~16 ms (OpenSSL checks that P is a safe prime);
 * reusing it with a fresh private key per call costs ~0.1 ms. Every call below is synchronous, so sharing
 * it between connections cannot interleave.
 */
let sharedDh: DiffieHellman | undefined
function dh (): DiffieHellman {
  sharedDh ??= createDiffieHellman(DH_PRIME_HEX, 'hex', DH_GENERATOR)
  return sharedDh
}

const randomPool = new RandomPool()

/** OpenSSL's AES-128-CTR (AES-NI where the CPU has it); in Node's default provider, no flag needed. */
const opensslAesCtr: CtrFactory = (key, counterBlock) => createCipheriv('aes-128-ctr', key, counterBlock)

export const nodeCryptoProvider: CryptoProvider = {
  name: 'node:crypto',

  /**
   * OpenSSL's RC4 when the process has it (started with `--openssl-legacy-provider`), else the JavaScript
   * word loop. The core reads no environment: a caller that wants JavaScript RC4 builds `Rc4` itself.
   */
  createRc4 (key) {
    return isOpensslRc4Available() ? new OpensslRc4(key) : new Rc4(key)
  },

  createAes128Ctr (key, counterBlock) {
    return new AesCtr('openssl', opensslAesCtr, key, counterBlock)
  },

  hmacSha256 (key, ...parts) {
    const hmac = createHmac('sha256', key)
    for (const part of parts) hmac.update(part)
    return new Uint8Array(hmac.digest())
  },

  sha1 (...parts) {
    const hash = createHash('sha1')
    for (const part of parts) hash.update(part)
    return new Uint8Array(hash.digest())
  },

  randomBytes (length) {
    return randomPool.take(length)
  },

  dhPublicKey (privateKey) {
    const d = dh()
    d.setPrivateKey(Buffer.from(privateKey))
    // With a private key set, generateKeys() derives the public key from it. Node may drop leading
    // zero bytes: pad back to 96 (unpadded keys broke several clients in 2026).
    return leftPad(new Uint8Array(d.generateKeys()), KEY_LENGTH)
  },

  dhSharedSecret (privateKey, peerPublicKey) {
    const d = dh()
    d.setPrivateKey(Buffer.from(privateKey))
    return leftPad(new Uint8Array(d.computeSecret(Buffer.from(peerPublicKey))), KEY_LENGTH)
  }
}
