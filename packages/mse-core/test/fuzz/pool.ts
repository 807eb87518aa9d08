/**
 * Known key pairs for the fuzzer, so that it can build valid later flights (req1, the SKEY hash, ENCRYPT(VC)...)
 * and get past the key stage. The handshake under test draws its key from a deterministic random source
 * (one seed per pool entry, fresh per input); the fuzzer plays the other side with its own private key.
 * Each entry is found by running the real class once with that seed: no assumption about the order in
 * which the class draws its random bytes. Entries include the 1-in-256 cases of a key or secret with a
 * leading zero byte, which padding bugs (libtorrent < 2.0.13) trip over.
 */
import {
  InitiatorHandshake, ResponderHandshake, SkeyRegistry, nodeCryptoProvider, type EncryptionPolicy, type RandomSource
} from '../../src/index.js'
import { drbg } from 'test-support'
import { infoHashOf } from '../helpers/pair.js'

/** The torrent both sides use, and one the responder does not serve. */
export const FUZZ_INFO_HASH = infoHashOf('fuzz')
export const OTHER_INFO_HASH = infoHashOf('fuzz: not served')

export const FUZZ_REGISTRY = new SkeyRegistry()
FUZZ_REGISTRY.add(FUZZ_INFO_HASH)

export interface PoolEntry {
  /** What makes this entry interesting (for reports). */
  label: string
  /** Seed of the random source of the handshake under test. */
  seed: string
  /** Key of the side under test, as its flight 1 or 2 carries it. */
  ownKey: Uint8Array
  /** The fuzzer's own private and public key (it plays the peer). */
  peerPrivateKey: Uint8Array
  peerKey: Uint8Array
  /** S, 96 bytes. */
  secret: Uint8Array
}

export function randomFor (entry: PoolEntry): RandomSource {
  return drbg('fuzz:' + entry.seed)
}

const provider = nodeCryptoProvider
const SEARCH_LIMIT = 4096

function peerKeyPair (seed: string): { privateKey: Uint8Array, publicKey: Uint8Array } {
  const privateKey = drbg('fuzz peer:' + seed)(20)
  return { privateKey, publicKey: provider.dhPublicKey(privateKey) }
}

/** The key the role under test sends first with `seed`. */
function ownKeyOf (role: 'initiator' | 'responder', seed: string, peerKey: Uint8Array, policy: EncryptionPolicy): Uint8Array {
  const random = drbg('fuzz:' + seed)
  if (role === 'initiator') {
    return new InitiatorHandshake({ infoHash: FUZZ_INFO_HASH, policy, random }).start(0).send.slice(0, 96)
  }
  const responder = new ResponderHandshake({ skeys: FUZZ_REGISTRY, policy, random })
  responder.start(0)
  return responder.receive(peerKey, 0).send.slice(0, 96)
}

function entry (role: 'initiator' | 'responder', label: string, seed: string, peerSeed: string): PoolEntry {
  const peer = peerKeyPair(peerSeed)
  const ownKey = ownKeyOf(role, seed, peer.publicKey, 'preferred')
  return {
    label,
    seed,
    ownKey,
    peerPrivateKey: peer.privateKey,
    peerKey: peer.publicKey,
    secret: provider.dhSharedSecret(peer.privateKey, ownKey)
  }
}

/** The first entry (over numbered seeds) that satisfies `wanted`; bounded. */
function search (make: (k: number) => PoolEntry, wanted: (e: PoolEntry) => boolean, what: string): PoolEntry {
  for (let k = 0; k < SEARCH_LIMIT; k++) {
    const candidate = make(k)
    if (wanted(candidate)) return candidate
  }
  throw new Error(`no pool entry with ${what} within ${SEARCH_LIMIT} seeds`)
}

function buildPool (role: 'initiator' | 'responder'): PoolEntry[] {
  const r = role[0]
  const pool = [0, 1, 2].map(k => entry(role, 'plain', `${r}${k}`, `${r}p${k}`))
  pool.push(search(k => entry(role, 'secret with a leading zero byte', `${r}s${k}`, `${r}p0`), e => e.secret[0] === 0, 'S[0] = 0'))
  pool.push(search(k => entry(role, 'own key with a leading zero byte', `${r}o${k}`, `${r}p0`), e => e.ownKey[0] === 0, 'own key[0] = 0'))
  pool.push(search(k => entry(role, 'peer key with a leading zero byte', `${r}0`, `${r}q${k}`), e => e.peerKey[0] === 0, 'peer key[0] = 0'))
  return pool
}

let pools: Record<'initiator' | 'responder', PoolEntry[]> | undefined

/** Built once per process (a few hundred DH operations). */
export function keyPool (role: 'initiator' | 'responder'): PoolEntry[] {
  pools ??= { initiator: buildPool('initiator'), responder: buildPool('responder') }
  return pools[role]
}
