/**
 * The handshake budget on its own, with a hand-driven clock: per-address rate (token bucket) and
 * concurrency, the global cap, refusals counted by reason, and a bounded address table.
 */
import { expect } from 'chai'
import { DEFAULT_HANDSHAKE_BUDGET, HandshakeBudget, addressKey, type BudgetTicket } from '../src/index.js'

class Clock {
  ms = 1_000_000
  readonly now = (): number => this.ms
}

function admitted (budget: HandshakeBudget, address: string): BudgetTicket {
  const result = budget.admit(address)
  if (!result.ok) throw new Error(`expected ${address} to be admitted, refused: ${result.reason}`)
  return result.ticket
}

describe('HandshakeBudget', () => {
  it('lets one address start a burst, then refuses it by rate until tokens refill', () => {
    const clock = new Clock()
    const budget = new HandshakeBudget({ burstPerAddress: 4, ratePerAddress: 2 }, clock.now)
    for (let i = 0; i < 4; i++) admitted(budget, '10.0.0.1').release()
    expect(budget.admit('10.0.0.1')).to.deep.equal({ ok: false, reason: 'address-rate' })
    // Another address has its own bucket.
    admitted(budget, '10.0.0.2').release()
    clock.ms += 499
    expect(budget.admit('10.0.0.1')).to.deep.equal({ ok: false, reason: 'address-rate' })
    clock.ms += 1
    admitted(budget, '10.0.0.1').release()
    expect(budget.admit('10.0.0.1').ok).to.equal(false)
    // A long pause refills to the burst size, not beyond.
    clock.ms += 3_600_000
    for (let i = 0; i < 4; i++) admitted(budget, '10.0.0.1').release()
    expect(budget.admit('10.0.0.1').ok).to.equal(false)
    expect(budget.stats.refused).to.deep.equal({ 'global-cap': 0, 'address-cap': 0, 'address-rate': 4 })
    expect(budget.stats.admitted).to.equal(10)
  })

  it('caps the handshakes in flight per address, and frees a slot on release', () => {
    const budget = new HandshakeBudget({ maxInFlightPerAddress: 3, burstPerAddress: 100 }, new Clock().now)
    const tickets = [admitted(budget, '10.0.0.1'), admitted(budget, '10.0.0.1'), admitted(budget, '10.0.0.1')]
    expect(budget.admit('10.0.0.1')).to.deep.equal({ ok: false, reason: 'address-cap' })
    admitted(budget, '10.0.0.2')
    tickets[0]!.release()
    tickets[0]!.release() // a second release gives nothing back
    admitted(budget, '10.0.0.1')
    expect(budget.admit('10.0.0.1')).to.deep.equal({ ok: false, reason: 'address-cap' })
    expect(budget.stats.inFlight).to.equal(4)
    expect(budget.stats.refused['address-cap']).to.equal(2)
  })

  it('caps the handshakes in flight from all addresses together', () => {
    const budget = new HandshakeBudget({ maxInFlight: 5, maxTrackedAddresses: 50 }, new Clock().now)
    const tickets = Array.from({ length: 5 }, (_, i) => admitted(budget, `10.0.1.${i}`))
    expect(budget.admit('10.0.2.1')).to.deep.equal({ ok: false, reason: 'global-cap' })
    expect(budget.stats).to.include({ inFlight: 5, peakInFlight: 5 })
    for (const ticket of tickets) ticket.release()
    expect(budget.stats.inFlight).to.equal(0)
    admitted(budget, '10.0.2.1')
    expect(budget.stats).to.include({ inFlight: 1, peakInFlight: 5, admitted: 6 })
    expect(budget.stats.refused['global-cap']).to.equal(1)
  })

  it('keeps the address table bounded however many addresses come, never forgetting one with handshakes in flight', () => {
    const clock = new Clock()
    const budget = new HandshakeBudget({ maxInFlight: 16, maxInFlightPerAddress: 2, maxTrackedAddresses: 64, burstPerAddress: 2 }, clock.now)
    // 10.9.9.9 uses its burst and keeps both handshakes in flight.
    const held = [admitted(budget, '10.9.9.9'), admitted(budget, '10.9.9.9')]
    let largest = 0
    for (let i = 0; i < 20_000; i++) {
      const result = budget.admit(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
      if (result.ok) result.ticket.release()
      largest = Math.max(largest, budget.stats.trackedAddresses)
    }
    expect(largest).to.equal(64)
    // Still remembered: no fresh bucket, no fresh concurrency.
    expect(budget.admit('10.9.9.9')).to.deep.equal({ ok: false, reason: 'address-cap' })
    held[0]!.release()
    expect(budget.admit('10.9.9.9')).to.deep.equal({ ok: false, reason: 'address-rate' })
    expect(budget.stats.inFlight).to.equal(1)
  })

  it('counts IPv6 addresses per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).to.equal(addressKey('2001:0db8:0001:0002:ffff:1:2:3'))
    expect(addressKey('2001:db8:1:2::1')).to.not.equal(addressKey('2001:db8:1:3::1'))
    expect(addressKey('::ffff:127.0.0.5')).to.equal('127.0.0.5')
    expect(addressKey('127.0.0.5')).to.equal('127.0.0.5')
    const budget = new HandshakeBudget({ maxInFlightPerAddress: 1 }, new Clock().now)
    admitted(budget, '2001:db8:1:2::1')
    expect(budget.admit('2001:db8:1:2::ffff')).to.deep.equal({ ok: false, reason: 'address-cap' })
  })

  it('documents its defaults and rejects nonsense options', () => {
    expect(new HandshakeBudget().options).to.deep.equal(DEFAULT_HANDSHAKE_BUDGET)
    expect(new HandshakeBudget({ maxInFlight: undefined }).options.maxInFlight).to.equal(DEFAULT_HANDSHAKE_BUDGET.maxInFlight)
    expect(() => new HandshakeBudget({ maxInFlight: 0 })).to.throw(RangeError, /maxInFlight/)
    expect(() => new HandshakeBudget({ ratePerAddress: -1 })).to.throw(RangeError, /ratePerAddress/)
    expect(() => new HandshakeBudget({ burstPerAddress: 1.5 })).to.throw(RangeError, /burstPerAddress/)
    expect(() => new HandshakeBudget({ maxInFlight: 100, maxTrackedAddresses: 100 })).to.throw(RangeError, /maxTrackedAddresses/)
  })
})
