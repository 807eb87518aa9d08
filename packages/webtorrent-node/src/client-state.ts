import { SkeyRegistry, parseEncryptionPolicy, type EncryptionPolicy } from 'mse-core'
import { HandshakeBudget, type HandshakeBudgetOptions, type HandshakeBudgetStats } from 'mse-wire'
import { policyFromEnvironment } from './environment.js'
import { debug } from './log.js'
import { PeerMemory } from './dial/peer-memory.js'
import { assertUpstreamInstance } from './patch/surface.js'
import type { UpstreamClient, UpstreamTorrent } from './patch/upstream-types.js'
import { sideTable } from './side-tables.js'
import { DEFAULT_LISTEN_BACKLOG, setListenBacklog } from './patch/listen-backlog.js'
import { emptyStats, type MseStats } from './stats.js'

/** Everything MSE keeps per client: its policy, the SKEY map, what each peer accepted, counters. */
export interface MseClientState {
  policy: EncryptionPolicy
  skeys: SkeyRegistry
  memory: PeerMemory
  stats: MseStats
  stageTimeoutMs?: number
  /** Limits on incoming handshakes (see incoming-budget.ts). */
  budget: HandshakeBudget
  /** Retry an unpadded-secret rejection at once with fresh keys (default true). */
  unpaddedSecretRetry: boolean
  /** AES-128-CTR with peers of this project (default true). */
  aes: boolean
}

const clientStates = sideTable<UpstreamClient, MseClientState>('client-state')
const trackedTorrents = sideTable<UpstreamTorrent, true>('tracked-torrent')
let patchEveryClient = false

/** `register` mode: every webtorrent client in the process gets MSE, not only webtorrent-node's class. */
export function enableForEveryClient (): void {
  patchEveryClient = true
}

export interface MseClientOptions {
  encryption?: EncryptionPolicy
  stageTimeoutMs?: number
  handshakeBudget?: HandshakeBudgetOptions
  unpaddedSecretRetry?: boolean
  aes?: boolean
  /** Backlog of the client's TCP listener, already validated (default 4096; see patch/listen-backlog.ts). */
  listenBacklog?: number
}

/** Called by webtorrent-node's client class (and lazily for any client in register mode). */
export function attachMseState (client: UpstreamClient, options: MseClientOptions = {}): MseClientState {
  const attached = clientStates.get(client)
  if (attached) return attached
  assertUpstreamInstance('client', client, client.constructor)
  const state: MseClientState = {
    policy: parseEncryptionPolicy(options.encryption ?? policyForUnmodifiedClient(client)),
    skeys: new SkeyRegistry(),
    memory: new PeerMemory(),
    stats: emptyStats(),
    stageTimeoutMs: options.stageTimeoutMs,
    budget: new HandshakeBudget(options.handshakeBudget),
    unpaddedSecretRetry: options.unpaddedSecretRetry ?? true,
    aes: options.aes ?? true
  }
  clientStates.set(client, state)
  // Torrents added before the state existed (register mode attaches lazily).
  for (const torrent of client.torrents ?? []) trackTorrent(client, state, torrent)
  raiseClientBacklog(client, options.listenBacklog)
  debug('client policy %s', state.policy)
  return state
}

/** The client's TCP listener (none without ConnPool, as in a browser build) gets the larger backlog. */
function raiseClientBacklog (client: UpstreamClient, listenBacklog: number | undefined): void {
  const server = client._connPool?.tcpServer
  if (server) setListenBacklog(server, listenBacklog ?? DEFAULT_LISTEN_BACKLOG)
  else debug('no TCP listener to raise the backlog of')
}

/** What `client.mseStats` returns: a snapshot of the counters, with the incoming handshake budget's. */
export function snapshotStats (state: MseClientState): MseStats & { budget: HandshakeBudgetStats } {
  return { ...structuredClone(state.stats), budget: state.budget.stats }
}

/** The state of a client that has MSE, or undefined (an unpatched upstream client in the same process). */
export function mseStateOf (client: UpstreamClient | undefined | null): MseClientState | undefined {
  if (!client) return undefined
  const attached = clientStates.get(client)
  if (attached || client.destroyed) return attached
  return patchEveryClient ? attachMseState(client) : undefined
}

/**
 * An unmodified program (register mode) says nothing about MSE: take WEBTORRENT_MSE_ENCRYPTION, else map
 * its `secure` option (0 no PE -> disabled, 1 PE with fallback -> preferred, 2 RC4 only -> required).
 */
function policyForUnmodifiedClient (client: UpstreamClient): EncryptionPolicy {
  const fromEnv = policyFromEnvironment()
  if (fromEnv) return fromEnv
  const secure = Number(client.secure ?? 1)
  return secure === 0 ? 'disabled' : secure === 2 ? 'required' : 'preferred'
}

/** Keeps the SKEY map in step with the client's torrents, magnets included (only the info hash is needed). */
export function trackTorrent (client: UpstreamClient, state: MseClientState, torrent: UpstreamTorrent): void {
  if (!torrent || trackedTorrents.has(torrent)) return
  trackedTorrents.set(torrent, true)
  const register = (): void => {
    if (torrent.infoHash !== undefined && !torrent.destroyed) state.skeys.add(torrent.infoHash)
  }
  if (torrent.infoHash) register()
  else torrent.once('infoHash', register)
  torrent.once('close', () => {
    const infoHash = torrent.infoHash
    // A duplicate add is destroyed while the original keeps serving the same info hash.
    const stillServed = (client.torrents ?? []).some(t => t !== torrent && t.infoHash === infoHash && !t.destroyed)
    if (infoHash && !stillServed) state.skeys.delete(infoHash)
  })
}
