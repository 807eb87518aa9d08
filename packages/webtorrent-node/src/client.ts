import UpstreamWebTorrent from 'webtorrent'
import { parseEncryptionPolicy, type EncryptionPolicy } from 'mse-core'
import { attachMseState, snapshotStats, type MseClientState } from './client-state.js'
import { installMsePatches } from './patch/install.js'
import { parseListenBacklog } from './patch/listen-backlog.js'
import type { UpstreamClient } from './patch/upstream-types.js'
import type { HandshakeBudgetOptions, HandshakeBudgetStats } from 'mse-wire'
import type { MseStats } from './stats.js'
import type { WebTorrentClass } from './webtorrent-api.js'

/** Upstream's class, seen through webtorrent-node's own declaration of it (webtorrent ships no types). */
const Upstream: WebTorrentClass = UpstreamWebTorrent

export interface WebTorrentOptions extends Record<string, any> {
  /** MSE policy for every TCP connection: `required`, `preferred` (default), `tolerated` or `disabled`. */
  encryption?: EncryptionPolicy
  /** Milliseconds each MSE handshake stage may take (default 30 s, the spec's bound). */
  mseStageTimeoutMs?: number
  /**
   * Limits on incoming handshakes: per-address rate and concurrency, and a global cap on handshakes in
   * progress (defaults in mse-wire's DEFAULT_HANDSHAKE_BUDGET). Connections over budget are closed unread.
   */
  mseHandshakeBudget?: HandshakeBudgetOptions
  /**
   * Redial at once, with fresh keys, a peer that drops our MSE handshake the way clients hashing an unpadded
   * shared secret do (libtorrent <= 2.0.12, rakshasa's libtorrent: 1 handshake in 256). Default true; false
   * only to measure the bug.
   */
  mseUnpaddedSecretRetry?: boolean
  /**
   * AES-128-CTR instead of RC4 with peers of this project (default true), negotiated inside their
   * authenticated PadC/PadD extension (docs/mse-extension.md). Other clients always get RC4.
   */
  mseAes?: boolean
  /**
   * Backlog of the TCP listener (default 4096; Linux caps it at net.core.somaxconn). webtorrent listens with
   * Node's 511: a burst of more connections than that has its SYNs dropped, and every peer in it, legitimate
   * or not, waits a SYN retransmit (1 s or more) to be accepted.
   */
  listenBacklog?: number
}

/**
 * Every discovery and port-mapping feature off, TCP only: a client that talks only to the peers it is
 * given (`torrent.addPeer('127.0.0.1:PORT')`). What the `demo`, the tests and the interop suite use.
 */
export const LOOPBACK_ONLY: Readonly<WebTorrentOptions> = Object.freeze({
  dht: false,
  tracker: false,
  lsd: false,
  natUpnp: false,
  natPmp: false,
  utPex: false,
  webSeeds: false,
  utp: false
})

/**
 * Upstream's WebTorrent class with Message Stream Encryption on TCP. A drop-in: the same constructor
 * options plus `encryption`. Upstream's own PE (`secure`) is switched off so only one MSE layer runs.
 */
export default class WebTorrent extends Upstream {
  readonly encryption: EncryptionPolicy
  private readonly mseState: MseClientState

  constructor (options: WebTorrentOptions = {}) {
    installMsePatches()
    const encryption = parseEncryptionPolicy(options.encryption)
    const { encryption: _ignored, mseStageTimeoutMs, mseHandshakeBudget, mseUnpaddedSecretRetry, mseAes, listenBacklog, ...upstreamOptions } = options
    // Checked before upstream's constructor opens the listener, so a bad option leaves no socket behind.
    if (mseAes !== undefined && typeof mseAes !== 'boolean') throw new TypeError('mseAes must be a boolean')
    const backlog = parseListenBacklog(listenBacklog)
    // listenBacklog is passed on too, for a webtorrent that takes the option itself (upstream/webtorrent 0002).
    super({ ...upstreamOptions, listenBacklog: backlog, secure: 0 })
    this.encryption = encryption
    // The same object, seen through the patch's narrow view of upstream's internals.
    this.mseState = attachMseState(this as unknown as UpstreamClient, {
      encryption,
      stageTimeoutMs: mseStageTimeoutMs,
      handshakeBudget: mseHandshakeBudget,
      unpaddedSecretRetry: mseUnpaddedSecretRetry,
      aes: mseAes,
      listenBacklog: backlog
    })
  }

  /**
   * Connections by method, failed handshakes by error code, attempts and fallbacks, and the incoming
   * handshake budget (refusals by reason, handshakes in flight).
   */
  get mseStats (): MseStats & { budget: HandshakeBudgetStats } {
    return snapshotStats(this.mseState)
  }
}

export { WebTorrent }
