import type { MseOutcome } from './outcome.js'

/**
 * The signature of a responder that hashes an unpadded S.
 *
 * The spec hashes S as its full 96 bytes, left-padded with zeros. libtorrent-rasterbar up to 2.0.12 (fixed in
 * 2.0.13) and rakshasa's libtorrent compute HASH('req3', S) over S with its leading zero bytes stripped. When
 * our S begins with a zero byte (1 handshake in 256) such a responder un-masks HASH('req2', SKEY) wrongly,
 * finds no torrent, and drops the connection right after our flight 3: we are in the `sync` stage (flight 3
 * sent, waiting for ENCRYPT(VC)) when the peer closes. The same peer completes a handshake with fresh keys.
 *
 * Nothing else distinguishes this from a peer that closes for another reason (it does not serve the torrent,
 * it is full), so the caller's answer must be cheap and bounded: one more MSE attempt with fresh keys, never
 * a plaintext one.
 */
export function isUnpaddedSecretRejection (outcome: MseOutcome): boolean {
  return !outcome.ok &&
    outcome.role === 'initiator' &&
    outcome.secretHasLeadingZero === true &&
    outcome.failedStage === 'sync' &&
    outcome.error?.code === 'peer-closed'
}
