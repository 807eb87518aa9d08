import { randomInt } from 'node:crypto'
import debugFactory from 'debug'
import type { RawSocket } from './raw-socket.js'

const debug = debugFactory('mse:wire')

/**
 * How a responder closes a connection whose handshake failed (docs/probe-resistance.md).
 *
 * Without it, a prober learns "this is MSE" from the instant and the byte count of our close: 629 bytes
 * without HASH('req1', S), or 609 before our key, or a bad VC get an immediate FIN, while a handshake that
 * merely waits is closed by its stage timer. With it, a failed handshake looks like one still waiting: we
 * keep reading and discarding until the stage timer would have fired, plus a random delay, and close then.
 */
export interface LingerOptions {
  /**
   * The random extra delay is uniform in 0..maxJitterMs (CSPRNG). Default: a third of the stage timeout
   * (10 s for the spec's 30 s), so that the close instant is not the handshake timeout to the millisecond,
   * while a failed connection is held at most 4/3 of a stage timeout.
   */
  maxJitterMs?: number
  /**
   * Bytes read (handshake included) after which we stop reading: uniform in [min, max]. The peer's writes
   * then stall on TCP flow control until the timer closes the connection. Default [16 KiB, 64 KiB]: over
   * ten times the most a valid initiator sends before our flight 4 (608 + 40 + 14 + 512 + 2 + 68 = 1244),
   * so no MSE window shows through, and discarding it costs microseconds.
   */
  byteBudget?: readonly [number, number]
  /**
   * Lingering connections allowed at once in this process, over every stream; a failure beyond that
   * closes at once (a flood of probes must not hold file descriptors). Default 256.
   */
  maxConcurrent?: number
  /** Called once when the lingering connection closes (bookkeeping and tests). */
  onClose?: (report: LingerReport) => void
}

export interface LingerReport {
  /** `timer`: the linger ran out (the normal close). `peer`: the peer ended or reset first. `capacity`: too many lingering connections, closed at once. */
  reason: 'timer' | 'peer' | 'capacity'
  /** Bytes read from the connection in all, handshake included. */
  bytesRead: number
  /** True when the byte budget ran out and we stopped reading. */
  budgetExhausted: boolean
  /** Wall-clock instant of the close (ms). */
  closedAt: number
}

export const DEFAULT_LINGER_BYTE_BUDGET: readonly [number, number] = [16 * 1024, 64 * 1024]
export const DEFAULT_MAX_LINGERING = 256

let lingering = 0

/** Connections lingering right now in this process. */
export function lingeringConnections (): number {
  return lingering
}

export interface LingerPlan {
  /** Absolute time (Date.now() clock) at which the failed stage would have timed out. */
  stageDeadline: number
  /** The stage timeout in force, for the default jitter. */
  stageTimeoutMs: number
  /** Bytes already read from the connection. */
  bytesRead: number
}

/**
 * Takes over `raw` after a failed handshake: reads and discards until `stageDeadline` plus a random delay
 * (or until the random byte budget is spent, then stops reading), then destroys it, as a silent service
 * closes an idle connection. The caller must already have removed its own 'data' listener or ignore data.
 */
export function lingerThenClose (raw: RawSocket, plan: LingerPlan, options: LingerOptions = {}): void {
  let bytesRead = plan.bytesRead
  let budgetExhausted = false
  let done = false
  let timer: ReturnType<typeof setTimeout> | undefined

  const finish = (reason: LingerReport['reason']): void => {
    if (done) return
    done = true
    clearTimeout(timer)
    if (reason !== 'capacity') lingering--
    raw.removeListener('data', onData)
    raw.removeListener('end', onPeerGone)
    raw.removeListener('close', onPeerGone)
    raw.on('error', () => {})
    raw.destroy()
    debug('linger closed (%s) after %d bytes%s', reason, bytesRead, budgetExhausted ? ', budget spent' : '')
    options.onClose?.({ reason, bytesRead, budgetExhausted, closedAt: Date.now() })
  }
  const onData = (chunk: Uint8Array): void => {
    bytesRead += chunk.length
    if (bytesRead >= budget) {
      budgetExhausted = true
      raw.removeListener('data', onData)
      raw.pause()
    }
  }
  // A peer that ends or resets is gone: a waiting handshake closes at once then, and so do we.
  const onPeerGone = (): void => finish('peer')

  raw.on('error', onPeerGone)
  if (lingering >= (options.maxConcurrent ?? DEFAULT_MAX_LINGERING)) {
    finish('capacity')
    return
  }
  lingering++
  const [min, max] = options.byteBudget ?? DEFAULT_LINGER_BYTE_BUDGET
  const budget = uniform(min, max)
  const maxJitter = options.maxJitterMs ?? Math.floor(plan.stageTimeoutMs / 3)
  // From the deadline itself, not from when its timer ran: a loaded event loop must not make a timed-out
  // handshake close later than a failed one.
  const closeAt = plan.stageDeadline + uniform(0, maxJitter)
  raw.on('end', onPeerGone)
  raw.on('close', onPeerGone)
  if (bytesRead >= budget) {
    budgetExhausted = true
    raw.pause()
  } else {
    raw.on('data', onData)
    raw.resume()
  }
  timer = setTimeout(() => finish('timer'), Math.max(0, closeAt - Date.now()))
  timer.unref?.()
}

/** Uniform integer in [min, max] from the CSPRNG. */
function uniform (min: number, max: number): number {
  const low = Math.max(0, Math.floor(min))
  const high = Math.max(low, Math.floor(max))
  return high === low ? low : randomInt(low, high + 1)
}
