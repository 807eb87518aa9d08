/** Stable error codes. They are part of the public API: callers count and branch on them. */
export type MseErrorCode =
  /** Peer key Y is 0, 1, P-1 or >= P (or otherwise outside [2, P-2]). */
  | 'degenerate-key'
  /** More bytes arrived than the peer may send before our next step (96 + 512). */
  | 'too-many-bytes'
  /** HASH('req1', S) not within 628 bytes, or ENCRYPT(VC) not within 616 bytes. */
  | 'sync-not-found'
  /** HASH('req2', SKEY) matched no torrent we serve. */
  | 'unknown-skey'
  /** The decrypted verification constant was not 8 zero bytes. */
  | 'bad-vc'
  /** len(PadC) or len(PadD) above 512. */
  | 'pad-too-long'
  /** len(IA) above the responder's bound. */
  | 'ia-too-long'
  /** crypto_provide and our policy share no method. */
  | 'no-common-method'
  /** crypto_select is not exactly one method that we offered (a downgrade or a broken peer). */
  | 'method-not-offered'
  /**
   * The extension proved that crypto_provide or crypto_select changed in transit (a downgrade attempt):
   * the peer runs this project's extension, so it speaks MSE. docs/mse-extension.md.
   */
  | 'negotiation-tampered'
  /** A stage did not complete before its deadline. */
  | 'deadline-exceeded'
  /** A plaintext BitTorrent handshake arrived and our policy is `required`. */
  | 'plaintext-refused'
  /** An MSE handshake arrived and our policy is `disabled`. */
  | 'encryption-refused'
  /** The peer ended the stream before the handshake completed. */
  | 'peer-closed'
  /** Initiator: the peer answered our key with a plaintext BitTorrent handshake (it does not speak MSE). */
  | 'plaintext-reply'
  /** The local side abandoned the handshake (the stream was destroyed before it completed). */
  | 'aborted'
  /** An unexpected failure inside the handshake (a bug, or a crypto provider error). */
  | 'internal-error'
  /** receive() after the handshake already ended. */
  | 'handshake-finished'

export class MseError extends Error {
  override readonly name = 'MseError'
  readonly code: MseErrorCode
  /** The handshake stage in which the error happened. */
  readonly stage: string

  constructor (code: MseErrorCode, stage: string, message: string) {
    super(`${message} [${code} at ${stage}]`)
    this.code = code
    this.stage = stage
  }
}

export function isMseError (value: unknown): value is MseError {
  return value instanceof MseError
}
