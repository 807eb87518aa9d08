import { MseStream } from 'mse-wire'
import type { MseClientState } from '../client-state.js'
import { reportConnectionFailure } from '../connection-failure.js'
import { admitIncoming, releaseIncoming } from '../incoming-budget.js'
import { sideTable } from '../side-tables.js'
import { recordOutcome, type PeerConnectionInfo } from '../stats.js'
import type { UpstreamConn, UpstreamConnPool } from './upstream-types.js'

/** What an accepted incoming stream negotiated, for the Peer webtorrent builds over it. */
export interface AcceptedIncoming {
  info: PeerConnectionInfo
  state: MseClientState
}

/** Incoming streams whose handshake succeeded, until webtorrent's Peer picks them up in onConnect. */
const accepted = sideTable<UpstreamConn, AcceptedIncoming>('accepted-incoming')

/** The handshake result of an incoming connection handed to webtorrent by `acceptIncoming`, if it is one. */
export function acceptedIncoming (conn: UpstreamConn): AcceptedIncoming | undefined {
  return accepted.get(conn)
}

/**
 * An incoming TCP or uTP connection: the budget first (refused unread), then our responder handshake on the
 * raw socket, and only once it succeeded `handOver(stream)` gives webtorrent the decrypted stream to build its
 * Peer and Wire on. Building those is most of what an incoming connection costs (a profile of the load bench
 * puts DH at a few percent of the responder's time), so a connection that fails its handshake (a prober, a
 * flood, a peer with no torrent of ours) never costs a Peer. Policies that accept plaintext still do: the
 * responder recognises a plaintext BitTorrent handshake and hands it over unchanged.
 *
 * `pool` is webtorrent's ConnPool: while the handshake runs, and while a failed one lingers, the raw socket
 * sits in its pending set, so a client destroyed meanwhile closes it as it closes every connection it has not
 * handed to a torrent.
 */
export function acceptIncoming (pool: UpstreamConnPool, conn: UpstreamConn, state: MseClientState, handOver: (stream: UpstreamConn) => void): void {
  if (!admitIncoming(state, conn)) return
  const client = pool._client ?? undefined
  const info: PeerConnectionInfo = { role: 'responder', fallback: false }
  pool._pendingConns?.add(conn)
  conn.once('close', () => pool._pendingConns?.delete(conn))
  const stream = new MseStream(conn, {
    role: 'responder',
    policy: state.policy,
    skeys: state.skeys,
    stageTimeoutMs: state.stageTimeoutMs,
    aes: state.aes,
    // Synchronous, before the stream delivers a payload byte: `wire.mse` is complete when the torrent emits 'wire'.
    onOutcome: outcome => {
      // Failed or not, the handshake work is over: a failed connection that lingers (probe-linger.ts)
      // holds a socket for up to 4/3 of a stage timeout, but no longer a budget slot.
      releaseIncoming(conn)
      // Handed over, the stream takes its place; a failed one stays pending until it closes.
      if (outcome.ok) pool._pendingConns?.delete(conn)
      recordOutcome(state, info, outcome)
    }
  })
  // A failed handshake destroys the stream with its error; the outcome reports it (below), and after the
  // hand-over webtorrent's Peer listens too.
  stream.on('error', () => {})
  stream.handshake.then(outcome => {
    if (outcome.ok) {
      // The client was destroyed during the handshake: nobody takes the connection any more.
      if (!pool._client || stream.destroyed) {
        stream.destroy()
        return
      }
      // The stream stands in for the socket webtorrent would have had (a duplex with its addresses).
      const conn = stream as unknown as UpstreamConn
      accepted.set(conn, { info, state })
      handOver(conn)
      return
    }
    if (!outcome.error) return
    reportConnectionFailure(client, {
      address: `${String(conn.remoteAddress)}:${String(conn.remotePort)}`,
      role: 'responder',
      code: outcome.error.code,
      closedBeforePeerByte: outcome.peerSentNoKey,
      fallback: false,
      policy: state.policy,
      infoHash: outcome.infoHash
    })
  }).catch((error: Error) => {
    // webtorrent threw while taking the connection: that connection only closes.
    stream.destroy(error)
  })
}
