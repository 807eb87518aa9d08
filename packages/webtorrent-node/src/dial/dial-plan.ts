import type { EncryptionPolicy } from 'mse-core'
import { speaksMse, type PeerKnowledge } from './peer-memory.js'

export type ConnectMode = 'mse' | 'plaintext'

/**
 * How to dial a peer first:
 * - `required`: MSE, always. `disabled`: plaintext, always.
 * - `preferred`: MSE, unless the peer is known to hang up on MSE and nothing says it speaks MSE (a reset
 *   of a peer that announced MSE is more likely an on-path downgrade than a plaintext-only peer).
 * - `tolerated`: plaintext, unless the peer is known to hang up on plaintext.
 */
export function firstConnectMode (policy: EncryptionPolicy, known: PeerKnowledge): ConnectMode {
  switch (policy) {
    case 'required': return 'mse'
    case 'disabled': return 'plaintext'
    case 'preferred': return known.mse === 'rejected' && !speaksMse(known) ? 'plaintext' : 'mse'
    case 'tolerated': return known.plaintext === 'rejected' ? 'mse' : 'plaintext'
  }
}

/**
 * Whether a failed attempt earns one retry in the other mode. Only when the peer closed or reset before
 * sending a single byte (of its key, or of its BitTorrent handshake): a failure after the peer spoke is not
 * evidence about the mode, and a peer known to accept the mode we tried (for MSE: it completed MSE with us,
 * or announced it in ut_pex, its extended handshake or through a tracker) is not downgraded on a reset.
 * Never under `required` (no plaintext) or `disabled` (no MSE), and never twice in a row.
 */
export function fallbackMode (
  policy: EncryptionPolicy,
  attempted: ConnectMode,
  closedBeforeFirstByte: boolean,
  known: PeerKnowledge,
  alreadyFellBack: boolean
): ConnectMode | undefined {
  if (!closedBeforeFirstByte || alreadyFellBack) return undefined
  if (policy === 'required' || policy === 'disabled') return undefined
  if (attempted === 'mse') return speaksMse(known) ? undefined : 'plaintext'
  return known.plaintext === 'works' ? undefined : 'mse'
}
