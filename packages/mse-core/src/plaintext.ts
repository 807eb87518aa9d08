import { PLAINTEXT_PROTOCOL_HEADER } from './constants.js'

export type PlaintextDetection = 'plaintext' | 'not-plaintext' | 'need-more'

/**
 * Tells a plaintext BitTorrent handshake (byte 19, "BitTorrent protocol") from an MSE key by the first 20
 * bytes. A random 96-byte key starts with these 20 bytes with probability 2^-160.
 */
export function detectPlaintextHandshake (firstBytes: Uint8Array): PlaintextDetection {
  const n = Math.min(firstBytes.length, PLAINTEXT_PROTOCOL_HEADER.length)
  for (let i = 0; i < n; i++) {
    if (firstBytes[i] !== PLAINTEXT_PROTOCOL_HEADER[i]) return 'not-plaintext'
  }
  return n === PLAINTEXT_PROTOCOL_HEADER.length ? 'plaintext' : 'need-more'
}
