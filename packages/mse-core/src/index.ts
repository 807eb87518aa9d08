export * from './constants.js'
export { MseError, isMseError, type MseErrorCode } from './errors.js'
export { Rc4 } from './crypto/rc4.js'
export type { CryptoProvider, RandomSource } from './crypto/provider.js'
export { nodeCryptoProvider } from './crypto/node-provider.js'
export { forgeCryptoProvider } from './crypto/forge-provider.js'
export { isValidPeerKey, generatePrivateKey } from './dh.js'
export {
  type EncryptionPolicy, ENCRYPTION_POLICIES, DEFAULT_ENCRYPTION_POLICY, isEncryptionPolicy, parseEncryptionPolicy,
  cryptoProvideFor, selectCryptoMethod, isAcceptableSelect, acceptsPlaintextHandshake, acceptsMseHandshake
} from './policy.js'
export { SkeyRegistry, skeyFromInfoHash, type SkeyLookup } from './skey-registry.js'
export { detectPlaintextHandshake, type PlaintextDetection } from './plaintext.js'
export { InitiatorHandshake, type InitiatorOptions } from './handshake/initiator.js'
export { ResponderHandshake, type ResponderOptions } from './handshake/responder.js'
export type { SessionOptions } from './handshake/session.js'
export type { HandshakeResult, HandshakeStep, HandshakeStage, NegotiatedMethod, Role } from './handshake/types.js'
export { toHex, fromHex } from './bytes.js'
