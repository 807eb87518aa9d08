import { MseStream, type MseOutcome } from 'mse-wire'
import { debug, mseStateOf, trackTorrent, type MseClientState } from '../client-state.js'
import { reportConnectionFailure } from '../connection-failure.js'
import { fallbackMode, firstConnectMode, type ConnectMode } from '../pool/dial-plan.js'
import { retryUnpaddedSecret } from '../pool/unpadded-secret-retry.js'
import { collectEvidence } from './evidence.js'
import { acceptIncoming, acceptedIncoming } from './incoming.js'
import { recordOutcome, type PeerConnectionInfo } from '../stats.js'
import { assertCompatibleWebTorrent, upstream, type UpstreamModules } from './seams.js'

const INSTALLED = Symbol.for('webtorrent-node.mse-installed')

/** Peer types whose connection is a byte stream MSE can run on (not WebRTC, not web seeds). */
function isStreamPeer (type: string): boolean {
  return type === 'tcpIncoming' || type === 'tcpOutgoing' || type === 'utpIncoming' || type === 'utpOutgoing'
}

/**
 * Applies the MSE patch to webtorrent's classes, once per process. Only clients that carry MSE state
 * (webtorrent-node's class, or every client in register mode) are affected; an unpatched upstream client
 * in the same process keeps its own behaviour.
 */
export function installMsePatches (modules: UpstreamModules = upstream): void {
  const { WebTorrent, Peer, ConnPool } = modules
  if ((Peer?.prototype as any)?.[INSTALLED]) return
  assertCompatibleWebTorrent(modules)
  Object.defineProperty(Peer.prototype, INSTALLED, { value: true })

  const originalAdd = WebTorrent.prototype.add
  WebTorrent.prototype.add = function patchedAdd (this: any, ...args: any[]) {
    const torrent = originalAdd.apply(this, args as any)
    const state = mseStateOf(this)
    if (state) {
      trackTorrent(this, state, torrent)
      announceEncryption(torrent, state)
      collectEvidence(torrent, state)
    }
    return torrent
  }

  // Incoming: our handshake runs on the raw socket first; webtorrent gets the connection (and builds its
  // Peer and Wire) only once it succeeded. Without an address webtorrent drops the connection itself.
  const originalOnConnection = ConnPool.prototype._onConnection
  ConnPool.prototype._onConnection = function patchedOnConnection (this: any, conn: any, type: string) {
    const state = conn && typeof conn.remoteAddress === 'string' ? mseStateOf(this._client) : undefined
    if (!state) return originalOnConnection.call(this, conn, type)
    acceptIncoming(this, conn, state, stream => originalOnConnection.call(this, stream, type))
  }

  const originalOnConnect = Peer.prototype.onConnect
  Peer.prototype.onConnect = Object.assign(function patchedOnConnect (this: any) {
    if (this.destroyed || !this.conn || this.mse || !isStreamPeer(this.type)) return originalOnConnect.call(this)
    let state: MseClientState | undefined
    let afterWire = (): void => {}
    if (this.type.endsWith('Outgoing')) {
      const client = this.swarm?.client
      state = mseStateOf(client)
      if (state) afterWire = wrapConnection(this, state, client)
    } else {
      // Its handshake ran before webtorrent saw it (acceptIncoming); any other incoming conn is a client without MSE.
      const incoming = acceptedIncoming(this.conn)
      if (incoming) {
        state = incoming.state
        this.mse = incoming.info
        this.secure = 0
      }
    }
    if (!state) return originalOnConnect.call(this)
    originalOnConnect.call(this)
    if (this.wire) {
      afterWire()
      this.wire.mse = this.mse
      // BEP 10 extended handshake: `e` = 1 tells the peer we prefer encrypted connections.
      if (state.policy === 'required' || state.policy === 'preferred') this.wire.extendedHandshake.e = 1
    }
  }, { [Symbol.for('webtorrent-node.original')]: originalOnConnect })
}

/**
 * Tracker hints, as Transmission and libtorrent send them: `supportcrypto=1` when we speak MSE, and
 * `requirecrypto=1` under `required` (trackers that honour it hand out only peers that support MSE).
 * webtorrent merges `torrent._getAnnounceOpts()` into every announce; a caller's own function is kept.
 */
function announceEncryption (torrent: any, state: MseClientState): void {
  if (!torrent || state.policy === 'disabled') return
  const callerOptions = torrent._getAnnounceOpts
  const hints = state.policy === 'required' ? { supportcrypto: 1, requirecrypto: 1 } : { supportcrypto: 1 }
  torrent._getAnnounceOpts = () => ({ ...(typeof callerOptions === 'function' ? callerOptions() : {}), ...hints })
}

/**
 * An outgoing connection: puts an MSE stream between the peer's socket and the Wire that onConnect is
 * about to build. Returns what to do once that Wire exists.
 */
function wrapConnection (peer: any, state: MseClientState, client: any): () => void {
  const raw = peer.conn
  const address: string = peer.addr ?? `${raw.remoteAddress}:${raw.remotePort}`
  const fallback = peer.__mseFallback === true
  const attempt: ConnectMode = peer.__mseForcedMode ?? firstConnectMode(state.policy, state.memory.get(address))
  const info: PeerConnectionInfo = { role: 'initiator', attempt, fallback }
  if (peer.__mseSecretRetry === true) info.secretRetry = true
  peer.mse = info
  // The Wire must not run bittorrent-protocol's own PE on top of ours.
  peer.secure = 0

  const stream = new MseStream(raw, {
    role: 'initiator',
    policy: state.policy,
    infoHash: peer.swarm.infoHash,
    connect: attempt,
    stageTimeoutMs: state.stageTimeoutMs,
    aes: state.aes,
    // Synchronous, before the Wire parses a byte: `wire.mse` is complete when the torrent emits 'wire'.
    onOutcome: outcome => {
      recordOutcome(state, info, outcome)
      if (attempt === 'mse') {
        // A tampered negotiation is not evidence against MSE: the peer proved it speaks it.
        if (outcome.ok || outcome.peerExtension) state.memory.recordMse(address, 'works')
        else if (outcome.closedBeforePeerKey) state.memory.recordMse(address, 'rejected')
      }
    }
  })
  peer.conn = stream
  state.stats.attempts[attempt] += 1
  const dial: Dial = { peer, swarm: peer.swarm, address, source: peer.source, retries: peer.retries, state, fallback, client }
  const knownBefore = state.memory.get(address)

  // A failed handshake is reported; a failed MSE dial gets the one retry in plaintext, once the stream
  // has reported (a microtask later).
  void stream.handshake.then(outcome => {
    if (outcome.ok || !outcome.error) return
    if (attempt === 'mse' && retryUnpaddedSecret(dial, outcome)) return
    // What this attempt taught is left out (knownBefore), but evidence that arrived meanwhile counts.
    const known = { ...knownBefore, evidence: state.memory.get(address).evidence }
    const next = attempt === 'mse' ? fallbackMode(state.policy, 'mse', outcome.closedBeforePeerKey, known, fallback) : undefined
    reportConnectionFailure(client, {
      address,
      role: 'initiator',
      attempt,
      code: outcome.error.code,
      closedBeforePeerByte: outcome.closedBeforePeerKey,
      fallback,
      retry: next,
      policy: state.policy,
      infoHash: peer.swarm?.infoHash
    })
    if (next) retryInOtherMode(dial, next, outcome)
  })
  return () => {
    if (attempt === 'plaintext') watchPlaintextAttempt(dial, raw, stream)
  }
}

/** An outgoing dial, and what its one retry in the other mode needs. */
interface Dial {
  peer: any
  swarm: any
  address: string
  source: unknown
  retries: number
  state: MseClientState
  /** This dial is itself the retry. */
  fallback: boolean
  client: any
}

/**
 * An outgoing plaintext connection: learn whether the peer answers the BitTorrent handshake, and if it
 * hangs up without a byte (an MSE-only peer refusing plaintext), retry once with MSE.
 */
function watchPlaintextAttempt (dial: Dial, raw: any, stream: MseStream): void {
  const { peer, address, state } = dial
  const wire = peer.wire
  if (!wire) return
  let answered = false
  // Before webtorrent's own listener, which announces the wire: `wire.mse.method` is set by then.
  wire.prependOnceListener('handshake', () => {
    answered = true
    peer.mse.method = 'plaintext'
    state.stats.connected.plaintext += 1
    state.memory.recordPlaintext(address, 'works')
  })
  raw.once('close', () => {
    if (answered || stream.bytesReceived > 0) return
    const known = state.memory.get(address)
    state.memory.recordPlaintext(address, 'rejected')
    const next = fallbackMode(state.policy, 'plaintext', true, known, dial.fallback)
    reportConnectionFailure(dial.client, {
      address,
      role: 'initiator',
      attempt: 'plaintext',
      code: 'no-answer',
      closedBeforePeerByte: true,
      fallback: dial.fallback,
      retry: next,
      policy: state.policy,
      infoHash: dial.swarm?.infoHash
    })
    if (next) retryInOtherMode(dial, next)
  })
}

/** The one retry: drop this peer and queue the same address again, dialled in the other mode. */
function retryInOtherMode ({ peer, swarm, address, source, retries, state }: Dial, mode: ConnectMode, outcome?: MseOutcome): void {
  if (!swarm || swarm.destroyed) return
  debug('%s hung up on %s: retrying once in %s', address, mode === 'plaintext' ? 'MSE' : 'plaintext', mode)
  if (mode === 'plaintext') state.stats.fallbacks.toPlaintext += 1
  else state.stats.fallbacks.toMse += 1
  peer.destroy(outcome?.error)
  if (swarm.destroyed || swarm._peers?.has(address)) return
  const retry = swarm._addPeer(address, 'tcp', source)
  if (retry) {
    retry.retries = retries
    retry.__mseFallback = true
    retry.__mseForcedMode = mode
  }
}
