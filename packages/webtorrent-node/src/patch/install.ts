import { MseStream } from 'mse-wire'
import { mseStateOf, snapshotStats, trackTorrent, type MseClientState } from '../client-state.js'
import { reportConnectionFailure } from '../connection-failure.js'
import { fallbackMode, firstConnectMode, type ConnectMode } from '../dial/dial-plan.js'
import { redialTagOf, retryInOtherMode, retryUnpaddedSecret, transportOf, type Dial } from '../dial/redial.js'
import { sideTable } from '../side-tables.js'
import { recordOutcome, type PeerConnectionInfo } from '../stats.js'
import { collectEvidence } from './evidence.js'
import { acceptIncoming, acceptedIncoming } from './incoming.js'
import { assertCompatibleWebTorrent, assertUpstreamInstance, IncompatibleWebTorrentError, ourGetters, upstream, wrappedOriginals } from './surface.js'
import type { UpstreamClient, UpstreamConn, UpstreamConnPool, UpstreamModules, UpstreamPeer, UpstreamTorrent } from './upstream-types.js'

/** What one installation changed in one copy of webtorrent, to undo it (keyed by that copy's Peer.prototype). */
interface Installation {
  restore: Array<() => void>
}
const installations = sideTable<object, Installation>('installation')

/** Peer types whose connection is a byte stream MSE can run on (not WebRTC, not web seeds). */
function isStreamPeer (type: string): boolean {
  return type === 'tcpIncoming' || type === 'tcpOutgoing' || type === 'utpIncoming' || type === 'utpOutgoing'
}

export function isMsePatchInstalled (modules: UpstreamModules = upstream): boolean {
  const proto = modules.Peer?.prototype
  return proto !== undefined && installations.has(proto)
}

/**
 * Replaces `owner[name]` with `wrapper(original)`, and records how to put the original back. Each wrapper
 * is known as a wrapper (`originalOf` in surface.ts), so checks always look at upstream's own function.
 */
function wrap<T extends object, K extends keyof T & string> (installation: Installation, owner: T, name: K, makeWrapper: (original: T[K]) => T[K]): void {
  const original = owner[name]
  const wrapper = makeWrapper(original)
  wrappedOriginals.set(wrapper as object, original as Function)
  owner[name] = wrapper
  installation.restore.push(() => { owner[name] = original })
}

/**
 * Applies the MSE patch to one copy of webtorrent's classes, once. Only clients that carry MSE state
 * (webtorrent-node's class, or every client in register mode) are affected; an unpatched upstream client
 * in the same process keeps its own behaviour. Every member it touches is listed in patch/surface.ts.
 */
export function installMsePatches (modules: UpstreamModules = upstream): void {
  if (isMsePatchInstalled(modules)) return
  assertCompatibleWebTorrent(modules)
  const { WebTorrent, Peer, ConnPool } = modules
  const installation: Installation = { restore: [] }
  installations.set(Peer.prototype, installation)

  wrap(installation, WebTorrent.prototype, 'add', originalAdd => function patchedAdd (this: UpstreamClient, ...args: unknown[]) {
    const torrent = originalAdd.apply(this, args as Parameters<typeof originalAdd>) as unknown as UpstreamTorrent
    const state = mseStateOf(this)
    if (state && torrent) {
      assertUpstreamInstance('torrent', torrent, WebTorrent)
      trackTorrent(this, state, torrent)
      announceEncryption(torrent, state)
      collectEvidence(torrent, state)
    }
    return torrent as never
  })

  // Incoming: our handshake runs on the raw socket first; webtorrent gets the connection (and builds its
  // Peer and Wire) only once it succeeded. Without an address webtorrent drops the connection itself.
  wrap(installation, ConnPool.prototype, '_onConnection', originalOnConnection => function patchedOnConnection (this: UpstreamConnPool, conn, type) {
    if (!conn || typeof conn.remoteAddress !== 'string') return originalOnConnection.call(this, conn, type)
    const client = refusingIncompatible(conn, () => {
      assertUpstreamInstance('pool', this, WebTorrent)
      return this._client
    })
    if (client === false) return
    const state = mseStateOf(client)
    if (!state) return originalOnConnection.call(this, conn, type)
    acceptIncoming(this, conn, state, stream => originalOnConnection.call(this, stream, type))
  })

  wrap(installation, Peer.prototype, 'onConnect', originalOnConnect => function patchedOnConnect (this: UpstreamPeer) {
    if (this.destroyed || !this.conn || this.mse || !isStreamPeer(this.type)) return originalOnConnect.call(this)
    let state: MseClientState | undefined
    let afterWire = (): void => {}
    if (this.type.endsWith('Outgoing')) {
      const client = this.swarm?.client
      state = mseStateOf(client)
      if (!state) return originalOnConnect.call(this)
      if (refusingIncompatible(this.conn, () => assertUpstreamInstance('peer', this, WebTorrent)) === false) return this.destroy()
      afterWire = wrapConnection(this, state, client)
    } else {
      // Its handshake ran before webtorrent saw it (acceptIncoming); any other incoming conn is a client without MSE.
      const incoming = acceptedIncoming(this.conn)
      if (!incoming) return originalOnConnect.call(this)
      if (refusingIncompatible(this.conn, () => assertUpstreamInstance('peer', this, WebTorrent)) === false) return this.destroy()
      state = incoming.state
      this.mse = incoming.info
      // The Wire must not run bittorrent-protocol's own PE on top of ours.
      this.secure = 0
    }
    originalOnConnect.call(this)
    if (this.wire) {
      afterWire()
      this.wire.mse = this.mse
      // BEP 10 extended handshake: `e` = 1 tells the peer we prefer encrypted connections.
      if (state.policy === 'required' || state.policy === 'preferred') this.wire.extendedHandshake.e = 1
    }
  })
}

/** Register mode: `client.mseStats` on upstream's own class, as webtorrent-node's class has it (its getter shadows this one). */
export function exposeMseStats (modules: UpstreamModules): void {
  const installation = installations.get(modules.Peer.prototype)
  const proto = modules.WebTorrent.prototype
  if (!installation || Object.prototype.hasOwnProperty.call(proto, 'mseStats')) return
  const get = function mseStats (this: UpstreamClient): ReturnType<typeof snapshotStats> | undefined {
    const state = mseStateOf(this)
    return state ? snapshotStats(state) : undefined
  }
  ourGetters.set(get, true)
  Object.defineProperty(proto, 'mseStats', { configurable: true, get })
  installation.restore.push(() => { delete (proto as { mseStats?: unknown }).mseStats })
}

/**
 * Undoes `installMsePatches` on one copy of webtorrent: every wrapped member gets upstream's own function
 * back. Clients created from then on behave as upstream's; `installMsePatches` may run again. Objects the
 * patch already wrapped one by one (a torrent's `_getAnnounceOpts`, a connection's MseStream) keep what
 * they have until they end. Returns false when nothing was installed.
 */
export function uninstallMsePatches (modules: UpstreamModules = upstream): boolean {
  const proto = modules.Peer?.prototype
  const installation = proto && installations.get(proto)
  if (!installation) return false
  for (const restore of installation.restore.reverse()) restore()
  installations.delete(proto)
  return true
}

/**
 * Runs a check of an upstream object met on a connection. If the object does not have what the patch
 * needs, the connection is closed (never left to run unencrypted), the error said once, and false returned.
 */
function refusingIncompatible<T> (conn: UpstreamConn, check: () => T): T | false {
  try {
    return check()
  } catch (err) {
    if (!(err instanceof IncompatibleWebTorrentError)) throw err
    warnOnce(err)
    conn.on('error', () => {})
    conn.destroy()
    return false
  }
}

let warned = false
function warnOnce (err: Error): void {
  if (warned) return
  warned = true
  process.stderr.write(`webtorrent-node: ${err.message}\n`)
}

/**
 * Tracker hints, as Transmission and libtorrent send them: `supportcrypto=1` when we speak MSE, and
 * `requirecrypto=1` under `required` (trackers that honour it hand out only peers that support MSE).
 * webtorrent merges `torrent._getAnnounceOpts()` into every announce; a caller's own function is kept.
 */
function announceEncryption (torrent: UpstreamTorrent, state: MseClientState): void {
  if (state.policy === 'disabled') return
  const callerOptions = torrent._getAnnounceOpts
  const hints = state.policy === 'required' ? { supportcrypto: 1, requirecrypto: 1 } : { supportcrypto: 1 }
  torrent._getAnnounceOpts = () => ({ ...(typeof callerOptions === 'function' ? callerOptions() : {}), ...hints })
}

/**
 * An outgoing connection: puts an MSE stream between the peer's socket and the Wire that onConnect is
 * about to build. Returns what to do once that Wire exists.
 */
function wrapConnection (peer: UpstreamPeer, state: MseClientState, client: UpstreamClient | undefined): () => void {
  const raw = peer.conn!
  const address: string = peer.addr ?? `${raw.remoteAddress}:${raw.remotePort}`
  const tag = redialTagOf(peer)
  const fallback = tag?.fallback === true
  const attempt: ConnectMode = tag?.mode ?? firstConnectMode(state.policy, state.memory.get(address))
  const info: PeerConnectionInfo = { role: 'initiator', attempt, fallback }
  if (tag?.secretRetry === true) info.secretRetry = true
  peer.mse = info
  // The Wire must not run bittorrent-protocol's own PE on top of ours.
  peer.secure = 0

  const stream = new MseStream(raw, {
    role: 'initiator',
    policy: state.policy,
    infoHash: peer.swarm?.infoHash,
    connect: attempt,
    stageTimeoutMs: state.stageTimeoutMs,
    aes: state.aes,
    // Synchronous, before the Wire parses a byte: `wire.mse` is complete when the torrent emits 'wire'.
    onOutcome: outcome => {
      recordOutcome(state, info, outcome)
      if (attempt === 'mse') {
        // A tampered negotiation is not evidence against MSE: the peer proved it speaks it.
        if (outcome.ok || outcome.peerExtension) state.memory.recordMse(address, 'works')
        else if (outcome.peerSentNoKey) state.memory.recordMse(address, 'rejected')
      }
    }
  })
  peer.conn = stream as unknown as UpstreamConn
  state.stats.attempts[attempt] += 1
  const dial: Dial = { peer, swarm: peer.swarm, address, transport: transportOf(peer), source: peer.source, retries: peer.retries, state, fallback, client }
  const knownBefore = state.memory.get(address)

  // A failed handshake is reported; a failed MSE dial gets the one retry in plaintext, once the stream
  // has reported (a microtask later).
  void stream.handshake.then(outcome => {
    if (outcome.ok || !outcome.error) return
    if (attempt === 'mse' && retryUnpaddedSecret(dial, outcome)) return
    // What this attempt taught is left out (knownBefore), but evidence that arrived meanwhile counts.
    const known = { ...knownBefore, evidence: state.memory.get(address).evidence }
    const next = attempt === 'mse' ? fallbackMode(state.policy, 'mse', outcome.peerSentNoKey, known, fallback) : undefined
    reportConnectionFailure(client, {
      address,
      role: 'initiator',
      attempt,
      code: outcome.error.code,
      closedBeforePeerByte: outcome.peerSentNoKey,
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

/**
 * An outgoing plaintext connection: learn whether the peer answers the BitTorrent handshake, and if it
 * hangs up without a byte (an MSE-only peer refusing plaintext), retry once with MSE.
 */
function watchPlaintextAttempt (dial: Dial, raw: UpstreamConn, stream: MseStream): void {
  const { peer, address, state } = dial
  const wire = peer.wire
  if (!wire) return
  let answered = false
  // Before webtorrent's own listener, which announces the wire: `wire.mse.method` is set by then.
  wire.prependOnceListener('handshake', () => {
    answered = true
    if (peer.mse) peer.mse.method = 'plaintext'
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
