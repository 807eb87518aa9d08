import { CRYPTO_PLAINTEXT, CRYPTO_RC4 } from './constants.js'

/**
 * What a user picks, named as Transmission users know it. One value governs both directions.
 * - `required`: RC4 only, offered and selected; plaintext handshakes refused. Never a plaintext BitTorrent byte.
 * - `preferred` (default): offer RC4 and plaintext, select RC4 when offered, accept plaintext handshakes.
 * - `tolerated`: like preferred, but select plaintext payload when offered (only the header is obfuscated).
 * - `disabled`: no MSE at all; MSE handshakes are refused.
 */
export type EncryptionPolicy = 'required' | 'preferred' | 'tolerated' | 'disabled'

export const ENCRYPTION_POLICIES: readonly EncryptionPolicy[] = ['required', 'preferred', 'tolerated', 'disabled']
export const DEFAULT_ENCRYPTION_POLICY: EncryptionPolicy = 'preferred'

export function isEncryptionPolicy (value: unknown): value is EncryptionPolicy {
  return typeof value === 'string' && (ENCRYPTION_POLICIES as readonly string[]).includes(value)
}

export function parseEncryptionPolicy (value: unknown): EncryptionPolicy {
  if (value === undefined) return DEFAULT_ENCRYPTION_POLICY
  if (isEncryptionPolicy(value)) return value
  throw new TypeError(`unknown encryption policy ${JSON.stringify(value)}: expected one of ${ENCRYPTION_POLICIES.join(', ')}`)
}

/** The crypto_provide bits an initiator offers. `disabled` offers nothing: it never starts MSE. */
export function cryptoProvideFor (policy: EncryptionPolicy): number {
  switch (policy) {
    case 'required': return CRYPTO_RC4
    case 'preferred':
    case 'tolerated': return CRYPTO_RC4 | CRYPTO_PLAINTEXT
    case 'disabled': return 0
  }
}

/**
 * The one method a responder selects from what the initiator provided (reserved bits ignored), or
 * undefined when there is no acceptable one.
 */
export function selectCryptoMethod (policy: EncryptionPolicy, provided: number): number | undefined {
  const rc4 = (provided & CRYPTO_RC4) !== 0
  const plaintext = (provided & CRYPTO_PLAINTEXT) !== 0
  switch (policy) {
    case 'required': return rc4 ? CRYPTO_RC4 : undefined
    case 'preferred': return rc4 ? CRYPTO_RC4 : plaintext ? CRYPTO_PLAINTEXT : undefined
    case 'tolerated': return plaintext ? CRYPTO_PLAINTEXT : rc4 ? CRYPTO_RC4 : undefined
    case 'disabled': return undefined
  }
}

/**
 * Whether the initiator accepts the responder's crypto_select: exactly one bit, one we provided.
 * Checking this is what stops a flipped crypto_provide byte from downgrading `required` to plaintext.
 */
export function isAcceptableSelect (provided: number, selected: number): boolean {
  const single = selected === CRYPTO_RC4 || selected === CRYPTO_PLAINTEXT
  return single && (provided & selected) !== 0
}

/** Whether a responder accepts a plaintext BitTorrent handshake. */
export function acceptsPlaintextHandshake (policy: EncryptionPolicy): boolean {
  return policy !== 'required'
}

/** Whether a responder accepts an MSE handshake. */
export function acceptsMseHandshake (policy: EncryptionPolicy): boolean {
  return policy !== 'disabled'
}
