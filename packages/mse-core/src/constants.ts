/**
 * The numbers of the Message Stream Encryption specification (Vuze, "Message Stream Encryption";
 * a verbatim copy ships in Transmission as extras/encryption.txt). Every bound used by the handshake
 * is named here, with the rule it comes from.
 */

/** The 768-bit MSE prime P. Not RFC 2409's modp1: they differ in the low 65 bits. */
export const DH_PRIME_HEX =
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563'
export const DH_GENERATOR = 2

/** Ya, Yb and S are always 96 bytes on the wire and inside hashes, left-padded with zeros. */
export const KEY_LENGTH = 96
/** The spec recommends 160-bit private keys (128 minimum; more adds nothing). */
export const PRIVATE_KEY_LENGTH = 20

/** PadA, PadB, PadC and PadD are each 0..512 bytes long. */
export const MAX_PAD_LENGTH = 512

/** Verification constant: 8 zero bytes. */
export const VC_LENGTH = 8
export const HASH_LENGTH = 20

/** crypto_provide / crypto_select bits. Other bits are reserved and ignored. */
export const CRYPTO_PLAINTEXT = 0x01
export const CRYPTO_RC4 = 0x02

/** AES block size: the CTR counter block is 16 bytes. */
export const AES_BLOCK_LENGTH = 16

/** Each RC4 keystream discards its first 1024 bytes. */
export const RC4_DISCARD = 1024

/**
 * A's key and pad: the most A may send before it has B's key (96 + 512). More is a protocol
 * violation ("more than 608 bytes before the peer's next step").
 */
export const MAX_BYTES_BEFORE_KEY_REPLY = KEY_LENGTH + MAX_PAD_LENGTH

/** B finds HASH('req1', S) within the first 96 + 512 + 20 = 628 bytes of A's stream. */
export const REQ1_SYNC_WINDOW = KEY_LENGTH + MAX_PAD_LENGTH + HASH_LENGTH

/** A finds ENCRYPT(VC) within the first 96 + 512 + 8 = 616 bytes of B's stream. */
export const VC_SYNC_WINDOW = KEY_LENGTH + MAX_PAD_LENGTH + VC_LENGTH

/** The BitTorrent handshake: 1 + 19 + 8 + 20 + 20 bytes. */
export const BITTORRENT_HANDSHAKE_LENGTH = 68

/**
 * IA bound accepted by a responder by default. The spec allows 65535, but libtorrent, rtorrent and
 * aria2 reject anything longer than the BitTorrent handshake, so a longer IA only comes from odd peers.
 */
export const DEFAULT_MAX_INITIAL_PAYLOAD = BITTORRENT_HANDSHAKE_LENGTH
/** len(IA) is a 16-bit field. */
export const MAX_INITIAL_PAYLOAD_FIELD = 0xffff

/** "If not at least 96 bytes are received within 30 s ... disconnect." Used for every stage. */
export const DEFAULT_STAGE_TIMEOUT_MS = 30_000

/** A plaintext BitTorrent connection starts with byte 19 and "BitTorrent protocol": 20 bytes. */
export const PLAINTEXT_PROTOCOL_HEADER = Uint8Array.from([19, ...new TextEncoder().encode('BitTorrent protocol')])
