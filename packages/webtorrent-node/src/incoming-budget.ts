import type { BudgetTicket } from 'mse-wire'
import type { MseClientState } from './client-state.js'
import { debug } from './log.js'
import type { UpstreamConn } from './patch/upstream-types.js'
import { sideTable } from './side-tables.js'

/** Admitted incoming connections, by raw socket, until their handshake ends (success or failure) or they close. */
const tickets = sideTable<UpstreamConn, BudgetTicket>('budget-ticket')

/**
 * Checks a newly accepted connection against the client's handshake budget, before webtorrent reads a byte
 * of it. Over budget: the socket is closed at once (no DH work, no buffer) and counted by reason in
 * `mseStats.budget`. Returns whether the connection may go on. Outgoing dials never pass here.
 */
export function admitIncoming (state: MseClientState, conn: UpstreamConn): boolean {
  // Under `disabled` there is no MSE handshake to protect. Without an address webtorrent drops it itself.
  if (state.policy === 'disabled' || typeof conn.remoteAddress !== 'string') return true
  const result = state.budget.admit(conn.remoteAddress)
  if (!result.ok) {
    debug('refused incoming %s:%s: %s', conn.remoteAddress, conn.remotePort, result.reason)
    conn.on('error', () => {})
    conn.destroy()
    return false
  }
  tickets.set(conn, result.ticket)
  conn.once('close', () => releaseIncoming(conn))
  return true
}

/**
 * The handshake on `conn` ended, succeeded or failed (or the connection closed): its slot goes back to the
 * budget. A failed connection may linger on for a while (probe-linger.ts); it no longer holds a slot.
 */
export function releaseIncoming (conn: UpstreamConn): void {
  tickets.get(conn)?.release()
  tickets.delete(conn)
}
