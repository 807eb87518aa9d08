/** Where a hint that a peer speaks MSE came from (see patch/evidence.ts). */
export type MseEvidence = 'pex' | 'extended-handshake' | 'tracker'

/** What we learned about one peer address from earlier connections, and from what others said of it. */
export interface PeerKnowledge {
  /**
   * `works`: an MSE handshake completed, or the peer proved it runs this project's extension (also when
   * the extension caught tampering on the path). `rejected`: the peer hung up on our key without a byte.
   */
  mse?: 'works' | 'rejected'
  /** `works`: it answered a plaintext BitTorrent handshake. `rejected`: it hung up on it without a byte. */
  plaintext?: 'works' | 'rejected'
  /** The first hint, from outside its handshakes, that the peer speaks MSE. Never cleared by a reset. */
  evidence?: MseEvidence
}

/** The peer completed MSE with us, or announced that it speaks it: a reset is no reason to downgrade. */
export function speaksMse (known: PeerKnowledge): boolean {
  return known.mse === 'works' || known.evidence !== undefined
}

/** Bounded so that a swarm of millions of addresses cannot grow it without limit. */
export const DEFAULT_PEER_MEMORY_SIZE = 10_000

/**
 * Per address (ip:port), what worked. A peer known to speak MSE keeps that knowledge whatever resets
 * follow (a reset after that is not evidence of a plaintext-only peer); the oldest entries are forgotten
 * first once the bound is reached.
 */
export class PeerMemory {
  private readonly entries = new Map<string, PeerKnowledge>()
  private readonly capacity: number

  constructor (capacity = DEFAULT_PEER_MEMORY_SIZE) {
    this.capacity = capacity
  }

  get size (): number {
    return this.entries.size
  }

  /** A copy: changing it does not change what is remembered. */
  get (address: string): PeerKnowledge {
    return { ...this.entries.get(address) }
  }

  recordMse (address: string, result: 'works' | 'rejected'): void {
    const known = this.get(address)
    if (result === 'rejected' && known.mse === 'works') return
    this.set(address, { ...known, mse: result })
  }

  recordPlaintext (address: string, result: 'works' | 'rejected'): void {
    const known = this.get(address)
    if (result === 'rejected' && known.plaintext === 'works') return
    this.set(address, { ...known, plaintext: result })
  }

  recordEvidence (address: string, source: MseEvidence): void {
    const known = this.get(address)
    if (known.evidence !== undefined) return
    this.set(address, { ...known, evidence: source })
  }

  private set (address: string, knowledge: PeerKnowledge): void {
    this.entries.delete(address)
    this.entries.set(address, knowledge)
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
  }
}
