import forge from 'node-forge'
import { DH_GENERATOR, DH_PRIME_HEX, KEY_LENGTH } from '../constants.js'
import { concatBytes, fromHex, leftPad, toHex } from '../bytes.js'
import type { CryptoProvider } from './provider.js'
import { AesCtr, addToCounter, type CtrFactory } from './aes-ctr.js'
import { Rc4 } from './rc4.js'

/**
 * Portable provider on node-forge: synchronous SHA-1, jsbn BigInteger and a CSPRNG, no `node:crypto`.
 * Slow (its modPow is ~20x slower than OpenSSL) but independent of OpenSSL, which makes it the oracle the
 * tests check the fast provider against.
 */
const P = new forge.jsbn.BigInteger(DH_PRIME_HEX, 16)
const G = new forge.jsbn.BigInteger(String(DH_GENERATOR), 10)

function toBigInteger (bytes: Uint8Array): forge.jsbn.BigInteger {
  return new forge.jsbn.BigInteger(toHex(bytes) || '0', 16)
}

function fromBigInteger (value: forge.jsbn.BigInteger): Uint8Array {
  let hex = value.toString(16)
  if (hex.length % 2) hex = '0' + hex
  return leftPad(fromHex(hex), KEY_LENGTH)
}

function binaryString (bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]!)
  return out
}

function fromBinaryString (text: string): Uint8Array {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i)
  return out
}

/**
 * AES-128-CTR on node-forge's AES block function (ECB over counter blocks). Not forge's own CTR mode:
 * that increments only the low 32 bits of the counter block, while OpenSSL (and our spec) increment all
 * 128; the two would part after 2^32 blocks.
 */
const forgeAesCtr: CtrFactory = (key, counterBlock) => {
  const ecb = forge.cipher.createCipher('AES-ECB', forge.util.createBuffer(binaryString(key)))
  ecb.start()
  let counter: Uint8Array = counterBlock.slice()
  let keystream: Uint8Array = new Uint8Array(0)
  let used = 0
  return {
    update (input) {
      const out = new Uint8Array(input.length)
      for (let i = 0; i < input.length; i++) {
        if (used === keystream.length) {
          // 64 counter blocks (1 KiB of keystream) per call into forge.
          const blocks: Uint8Array[] = []
          for (let b = 0; b < 64; b++) {
            blocks.push(counter)
            counter = addToCounter(counter, 1)
          }
          ecb.update(forge.util.createBuffer(binaryString(concatBytes(...blocks))))
          keystream = fromBinaryString(ecb.output.getBytes())
          used = 0
        }
        out[i] = input[i]! ^ keystream[used++]!
      }
      return out
    }
  }
}

export const forgeCryptoProvider: CryptoProvider = {
  name: 'node-forge',

  /** node-forge has no RC4: the portable JavaScript one. */
  createRc4 (key) {
    return new Rc4(key)
  },

  createAes128Ctr (key, counterBlock) {
    return new AesCtr('js', forgeAesCtr, key, counterBlock)
  },

  hmacSha256 (key, ...parts) {
    const hmac = forge.hmac.create()
    hmac.start('sha256', binaryString(key))
    for (const part of parts) hmac.update(binaryString(part))
    return fromBinaryString(hmac.digest().getBytes())
  },

  sha1 (...parts) {
    const md = forge.md.sha1.create()
    for (const part of parts) md.update(binaryString(part))
    return fromBinaryString(md.digest().getBytes())
  },

  randomBytes (length) {
    return fromBinaryString(forge.random.getBytesSync(length))
  },

  dhPublicKey (privateKey) {
    return fromBigInteger(G.modPow(toBigInteger(privateKey), P))
  },

  dhSharedSecret (privateKey, peerPublicKey) {
    return fromBigInteger(toBigInteger(peerPublicKey).modPow(toBigInteger(privateKey), P))
  }
}
