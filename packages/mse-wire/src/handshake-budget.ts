import { isIPv6 } from 'node:net'

/**
 * How much handshake work a responder accepts. Each incoming MSE handshake costs the responder one DH key
 * pair and one shared secret (two 768-bit exponentiations) as soon as 96 key bytes arrive, plus a socket and
 * up to 628 buffered bytes while it waits for flight 3. The spec bounds none of that per source; BiglyBT,
 * where MSE comes from, caps incoming DH work per IP address. The budget is checked when a connection is
 * accepted, before a byte is read: a connection over budget is closed at once, which costs nothing and
 * tells a prober nothing about MSE (any busy server does the same). A legitimate peer that was refused dials
 * again later, as every client does after a dropped connection.
 */
export interface HandshakeBudgetOptions {
  /**
   * Handshakes in progress at once, from all addresses (default 1024). Each holds a socket and at most a
   * few KiB; 1024 of them are a few MiB and, were all to send a key at once, ~0.2 s of DH CPU. A
   * webtorrent client keeps at most 55 connections per torrent, so legitimate traffic stays far below it.
   */
  maxInFlight?: number
  /**
   * Handshakes in progress at once from one address (default 4). A legitimate peer opens one connection
   * per torrent, and a handshake takes a round trip or two; a few torrents, or a few peers behind one NAT,
   * fit. With 4, it takes 256 addresses to fill the global cap.
   */
  maxInFlightPerAddress?: number
  /**
   * New handshakes one address may start per second, sustained (default 1): a token bucket per address.
   * A peer reconnects after seconds (webtorrent backs off 1 s, 5 s, 15 s...), so 1/s is above any honest
   * peer's rate, while each address can cost us at most one connection's work a second (~1.5-2 ms of CPU
   * in webtorrent-node, DH ~0.1 ms of it): 64 attacking addresses, ~10% of a core. scripts/bench/flood.ts.
   */
  ratePerAddress?: number
  /** Handshakes one address may start in a burst (the bucket's size, default 8): a client starting up with several torrents. */
  burstPerAddress?: number
  /**
   * Addresses remembered (default 4096, ~0.5 MiB). The least recently seen address with nothing in flight is
   * forgotten first; it comes back with a full bucket, which only an attacker with more than this many
   * addresses can exploit, and the global cap still bounds what it can hold.
   */
  maxTrackedAddresses?: number
}

export const DEFAULT_HANDSHAKE_BUDGET: Readonly<Required<HandshakeBudgetOptions>> = Object.freeze({
  maxInFlight: 1024,
  maxInFlightPerAddress: 4,
  ratePerAddress: 1,
  burstPerAddress: 8,
  maxTrackedAddresses: 4096
})

/** Why a connection was refused. */
export type BudgetRefusal = 'global-cap' | 'address-cap' | 'address-rate'

/** What `stats` reports: counters since creation and the current gauges. */
export interface HandshakeBudgetStats {
  admitted: number
  refused: Record<BudgetRefusal, number>
  /** Handshakes in progress now. */
  inFlight: number
  /** Highest `inFlight` seen. */
  peakInFlight: number
  /** Addresses in the table now (at most `maxTrackedAddresses`). */
  trackedAddresses: number
}

/** An admitted handshake. Call `release()` once it completed or its connection closed (more calls are no-ops). */
export interface BudgetTicket {
  release: () => void
}

interface AddressEntry {
  tokens: number
  /** When `tokens` was last brought up to date (ms). */
  updatedAt: number
  inFlight: number
}

export type AdmitResult = { ok: true, ticket: BudgetTicket } | { ok: false, reason: BudgetRefusal }

/**
 * The per-address token buckets and in-flight counts, and the global in-flight count. Bounded memory: at
 * most `maxTrackedAddresses` entries. Time comes from `now` (milliseconds), so it is testable without timers.
 */
export class HandshakeBudget {
  readonly options: Readonly<Required<HandshakeBudgetOptions>>
  private readonly addresses = new Map<string, AddressEntry>()
  private inFlight = 0
  private peakInFlight = 0
  private admitted = 0
  private readonly refused: Record<BudgetRefusal, number> = { 'global-cap': 0, 'address-cap': 0, 'address-rate': 0 }

  constructor (options: HandshakeBudgetOptions = {}, private readonly now: () => number = Date.now) {
    this.options = Object.freeze(validate({ ...DEFAULT_HANDSHAKE_BUDGET, ...definedOnly(options) }))
  }

  /**
   * Accepts or refuses a new incoming handshake from `address` (an IP address; IPv6 addresses count per
   * /64, the block one subscriber usually gets). A refusal takes nothing from the bucket.
   */
  admit (address: string): AdmitResult {
    const key = addressKey(address)
    const now = this.now()
    const entry = this.entryFor(key, now)
    let reason: BudgetRefusal | undefined
    if (this.inFlight >= this.options.maxInFlight) reason = 'global-cap'
    else if (entry.inFlight >= this.options.maxInFlightPerAddress) reason = 'address-cap'
    else if (entry.tokens < 1) reason = 'address-rate'
    if (reason) {
      this.refused[reason] += 1
      return { ok: false, reason }
    }
    entry.tokens -= 1
    entry.inFlight += 1
    this.inFlight += 1
    this.admitted += 1
    if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight
    let released = false
    return {
      ok: true,
      ticket: {
        release: () => {
          if (released) return
          released = true
          entry.inFlight -= 1
          this.inFlight -= 1
        }
      }
    }
  }

  get stats (): HandshakeBudgetStats {
    return {
      admitted: this.admitted,
      refused: { ...this.refused },
      inFlight: this.inFlight,
      peakInFlight: this.peakInFlight,
      trackedAddresses: this.addresses.size
    }
  }

  /** The address's entry, refilled to `now` and moved to the most recently seen end of the table. */
  private entryFor (key: string, now: number): AddressEntry {
    const { ratePerAddress, burstPerAddress } = this.options
    let entry = this.addresses.get(key)
    if (entry) {
      this.addresses.delete(key)
      const elapsed = Math.max(0, now - entry.updatedAt)
      entry.tokens = Math.min(burstPerAddress, entry.tokens + elapsed * ratePerAddress / 1000)
      entry.updatedAt = now
    } else {
      this.evictIfFull()
      entry = { tokens: burstPerAddress, updatedAt: now, inFlight: 0 }
    }
    this.addresses.set(key, entry)
    return entry
  }

  /**
   * Forgets the least recently seen address with nothing in flight. Entries with handshakes in flight
   * number at most `maxInFlight`, so the scan skips at most that many.
   */
  private evictIfFull (): void {
    if (this.addresses.size < this.options.maxTrackedAddresses) return
    for (const [key, entry] of this.addresses) {
      if (entry.inFlight === 0) {
        this.addresses.delete(key)
        return
      }
    }
  }
}

/** IPv4 (and IPv4-mapped IPv6) addresses as they are; other IPv6 addresses by their /64 prefix. */
export function addressKey (address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]!
  if (!isIPv6(address)) return address
  return expandIPv6(address).slice(0, 4).join(':') + '::/64'
}

function expandIPv6 (address: string): string[] {
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const missing = tail === undefined ? 0 : 8 - left.length - right.length
  return [...left, ...Array<string>(missing).fill('0'), ...right].map(group => group.toLowerCase().replace(/^0+(?=.)/, ''))
}

function definedOnly (options: HandshakeBudgetOptions): HandshakeBudgetOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))
}

function validate (options: Required<HandshakeBudgetOptions>): Required<HandshakeBudgetOptions> {
  const positiveInteger = (name: keyof HandshakeBudgetOptions): void => {
    const value = options[name]
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`handshake budget: ${name} must be a positive integer (got ${String(value)})`)
  }
  positiveInteger('maxInFlight')
  positiveInteger('maxInFlightPerAddress')
  positiveInteger('burstPerAddress')
  positiveInteger('maxTrackedAddresses')
  if (!(options.ratePerAddress > 0) || !Number.isFinite(options.ratePerAddress)) {
    throw new RangeError(`handshake budget: ratePerAddress must be a positive number (got ${String(options.ratePerAddress)})`)
  }
  if (options.maxTrackedAddresses <= options.maxInFlight) {
    // Otherwise a full table of addresses with handshakes in flight leaves nothing to forget.
    throw new RangeError('handshake budget: maxTrackedAddresses must exceed maxInFlight')
  }
  return options
}
