import { CONNECTION_FAILURE_EVENT, type ConnectionFailure } from '../connection-failure.js'
import type { Output } from './output.js'
import { displayAddress, peerKey } from './peers.js'

/** A failed connection, in words: what the peer did, and the flag that would change the outcome. */
export interface FailureExplanation {
  /** "peer 127.0.0.1:6881 closed the connection on our encrypted handshake: it seems to accept only plaintext" */
  message: string
  /** "--encryption preferred would retry it in plaintext"; absent when no flag helps. */
  hint?: string
  /** The failure follows from the two policies and repeats on every redial: this peer can never be used. */
  policyMismatch: boolean
}

/**
 * Explains a failure from the client's `mseConnectionFailure` event. A policy mismatch is a peer that
 * refused the only mode our policy allows (required: MSE; disabled: plaintext), or dialled us in the mode
 * our policy refuses; every redial ends the same way, so it is worth saying which flag changes it.
 */
export function explainFailure (f: ConnectionFailure): FailureExplanation {
  const peer = `peer ${displayAddress(f.address)}`
  const retrying = f.retry === 'plaintext' ? '; retrying once in plaintext' : f.retry === 'mse' ? '; retrying once with MSE' : ''
  if (f.role === 'initiator' && f.attempt === 'mse' && f.closedBeforePeerByte) {
    const what = f.code === 'plaintext-reply'
      ? `${peer} answered our encrypted handshake in plaintext: it does not speak MSE`
      : `${peer} closed the connection on our encrypted handshake: it seems to accept only plaintext`
    const mismatch = f.policy === 'required' && f.retry === undefined
    return { message: what + retrying, hint: mismatch ? '--encryption preferred would retry it in plaintext' : undefined, policyMismatch: mismatch }
  }
  if (f.role === 'initiator' && f.attempt === 'plaintext' && f.code === 'no-answer') {
    const mismatch = f.policy === 'disabled' && f.retry === undefined
    return {
      message: `${peer} closed the connection on our plaintext handshake without answering: it seems to require encryption` + retrying,
      hint: mismatch ? '--encryption preferred (or tolerated) would retry it with MSE' : undefined,
      policyMismatch: mismatch
    }
  }
  if (f.role === 'responder' && f.code === 'plaintext-refused') {
    return {
      message: `${peer} connected to us in plaintext, which --encryption required refuses`,
      hint: '--encryption preferred would accept it',
      policyMismatch: true
    }
  }
  if (f.role === 'responder' && f.code === 'encryption-refused') {
    return {
      message: `${peer} connected to us with an MSE handshake, which --encryption disabled refuses`,
      hint: '--encryption preferred (or tolerated) would accept it',
      policyMismatch: true
    }
  }
  const how = f.role === 'initiator' ? `our ${f.attempt === 'plaintext' ? 'plaintext' : 'MSE'} connection to ${peer}` : `the MSE handshake from ${peer}`
  return { message: `${how} failed: ${f.code}${retrying}`, policyMismatch: false }
}

export interface FailureWatchOptions {
  /** Only failures of this torrent (or of no known torrent). */
  infoHash?: () => string | undefined
  /** Show failures that are not policy mismatches too (--verbose). */
  verbose?: boolean
}

/**
 * Reports failed connections of one client: a warning line (and a `connection-failed` JSON event) the
 * first time a peer fails in a given way; `aborted` (our own teardown) is never reported. Remembers the
 * peers that can never be used under the policy.
 */
export class ConnectionFailureWatch {
  /** peerKey -> the explanation of a policy mismatch with that peer. */
  readonly mismatched = new Map<string, FailureExplanation>()
  private readonly seen = new Set<string>()
  private readonly listener = (failure: ConnectionFailure): void => this.onFailure(failure)
  private readonly changeListeners = new Set<() => void>()

  constructor (private readonly client: any, private readonly out: Output, private readonly options: FailureWatchOptions = {}) {
    client.on(CONNECTION_FAILURE_EVENT, this.listener)
  }

  /** Calls `listener` after each newly recorded mismatch. */
  onMismatch (listener: () => void): void {
    this.changeListeners.add(listener)
  }

  stop (): void {
    this.client.removeListener(CONNECTION_FAILURE_EVENT, this.listener)
    this.changeListeners.clear()
  }

  private onFailure (f: ConnectionFailure): void {
    if (f.code === 'aborted') return
    const infoHash = this.options.infoHash?.()
    if (infoHash !== undefined && f.infoHash !== undefined && f.infoHash !== infoHash) return
    const explanation = explainFailure(f)
    const key = `${peerKey(f.address)} ${f.role} ${f.attempt ?? ''} ${f.code}`
    const first = !this.seen.has(key)
    this.seen.add(key)
    if (first && (explanation.policyMismatch || f.retry !== undefined || this.options.verbose === true)) {
      this.out.event('connection-failed', {
        address: displayAddress(f.address),
        role: f.role,
        attempt: f.attempt,
        code: f.code,
        retry: f.retry,
        policyMismatch: explanation.policyMismatch,
        message: explanation.message,
        hint: explanation.hint
      })
      const text = explanation.hint ? `${explanation.message} (${explanation.hint})` : explanation.message
      if (explanation.policyMismatch) this.out.warn(text)
      else this.out.info(text)
    }
    if (explanation.policyMismatch && f.role === 'initiator') {
      const isNew = !this.mismatched.has(peerKey(f.address))
      this.mismatched.set(peerKey(f.address), explanation)
      if (isNew) for (const listener of this.changeListeners) listener()
    }
  }
}
