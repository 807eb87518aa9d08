/**
 * The loop-turn budget of handshake work (turn-budget.ts): work runs at once while the turn's slice lasts,
 * then waits, in order, a slice per turn; what a task sets off after it returns is charged to it; and an
 * MseStream whose handshake steps wait for their turn still runs the same handshake, in the same order,
 * drops what waited when destroyed, and sees the peer's close after the chunks that came before it.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { TurnBudget, type MseOutcome } from '../src/index.js'
import { streamPair } from './helpers.js'
import { failOnUncaught, nextEvent, readBytes, within } from 'test-support'

/** The next loop turn: our setImmediate runs after any the budget scheduled before it. */
async function nextTurn (): Promise<void> {
  await new Promise<void>(resolve => setImmediate(resolve))
}

/** A budget whose clock the test moves. */
function fakeClockBudget (sliceMs: number): { budget: TurnBudget, clock: { ms: number } } {
  const clock = { ms: 0 }
  return { budget: new TurnBudget({ sliceMs, now: () => clock.ms }), clock }
}

/** A budget that never gives time and keeps what is deferred until the test runs it. */
class HeldTurns extends TurnBudget {
  readonly held: Array<() => void> = []
  override hasTime (): boolean { return false }
  override defer (task: () => void): void { this.held.push(task) }
  runHeld (): void { for (const task of this.held.splice(0)) task() }
}

describe('turn budget', function () {
  this.timeout(20_000)
  failOnUncaught()

  it('runs work at once while the slice lasts, then queues it', () => {
    const { budget, clock } = fakeClockBudget(4)
    const ran: string[] = []
    budget.run(() => { ran.push('a'); clock.ms += 3 })
    budget.run(() => { ran.push('b'); clock.ms += 3 })
    budget.run(() => ran.push('c'))
    expect(ran).to.deep.equal(['a', 'b'])
    expect(budget.queued).to.equal(1)
    // Nothing runs ahead of what already waits, even once a new slice has time again.
    expect(budget.hasTime()).to.equal(false)
  })

  it('drains the queue in order, a slice per turn, at least one task per turn', async () => {
    const { budget, clock } = fakeClockBudget(4)
    const ran: number[] = []
    clock.ms = 0
    expect(budget.hasTime()).to.equal(true)
    clock.ms = 10 // this turn's slice is spent
    for (let k = 0; k < 5; k++) budget.run(() => { ran.push(k); clock.ms += 5 })
    expect(ran).to.deep.equal([])
    const perTurn: number[] = []
    for (let turn = 0; turn < 8 && budget.queued > 0; turn++) {
      await nextTurn()
      perTurn.push(ran.length)
    }
    expect(ran).to.deep.equal([0, 1, 2, 3, 4])
    // Each task outlasts the slice alone: one per turn.
    expect(perTurn).to.deep.equal([1, 2, 3, 4, 5])
  })

  it('charges a task with what it set off after it returned (its promise reactions)', async () => {
    const { budget, clock } = fakeClockBudget(4)
    let ran = 0
    expect(budget.hasTime()).to.equal(true)
    clock.ms = 10
    // 1 ms of its own, then 3 ms in a promise reaction (as webtorrent's Peer set-up follows a handshake).
    for (let k = 0; k < 12; k++) {
      budget.defer(() => {
        ran++
        clock.ms += 1
        void Promise.resolve().then(() => { clock.ms += 3 })
      })
    }
    await nextTurn()
    // The first drain knows no after-cost yet: 4 tasks fill its 4 ms.
    expect(ran).to.equal(4)
    await nextTurn()
    // They cost 3 ms each afterwards: 1 ms + 3 ms charged fills the slice with one task.
    expect(ran).to.equal(5)
  })

  it('refuses a slice that is not a finite number >= 0', () => {
    expect(() => new TurnBudget({ sliceMs: -1 })).to.throw(RangeError, /sliceMs/)
    expect(() => new TurnBudget({ sliceMs: Number.NaN })).to.throw(RangeError, /sliceMs/)
    expect(() => new TurnBudget({ sliceMs: Infinity })).to.throw(RangeError, /sliceMs/)
  })
})

describe('MseStream under a turn budget', function () {
  this.timeout(20_000)
  failOnUncaught()

  it('with every step waiting for a later turn, the handshake completes and the payload arrives whole, in order', async () => {
    const turns = new TurnBudget({ sliceMs: 0 })
    const pair = await streamPair({ initiator: { policy: 'required', turnBudget: turns }, responder: { policy: 'required', turnBudget: turns } })
    try {
      const payload = randomBytes(256 * 1024)
      const received = readBytes(pair.responder, payload.length)
      // Written before the handshake: held, then sent after it, behind the handshake bytes the responder parks.
      for (let offset = 0; offset < payload.length; offset += 16 * 1024) pair.initiator.write(payload.subarray(offset, offset + 16 * 1024))
      const [initiatorOutcome, responderOutcome] = await within(Promise.all([pair.initiator.handshake, pair.responder.handshake]), 10_000, 'both outcomes')
      expect(initiatorOutcome.ok).to.equal(true)
      expect(responderOutcome.ok).to.equal(true)
      expect((await within(received, 10_000, 'the payload')).equals(payload)).to.equal(true)
      expect(turns.queued).to.equal(0)
    } finally {
      pair.close()
    }
  })

  it('spreads a burst of handshakes over several loop turns', async () => {
    const turns = new TurnBudget({ sliceMs: 0 })
    const pairs = await Promise.all(Array.from({ length: 16 }, async () => await streamPair({ initiator: { policy: 'required' }, responder: { policy: 'required', turnBudget: turns } })))
    try {
      let turn = 0
      let counting = true
      const count = (): void => { turn++; if (counting) setImmediate(count) }
      setImmediate(count)
      const doneIn = await within(Promise.all(pairs.map(async pair => {
        const outcome: MseOutcome = await pair.responder.handshake
        expect(outcome.ok).to.equal(true)
        return turn
      })), 10_000, 'every responder outcome')
      counting = false
      expect(new Set(doneIn).size).to.be.greaterThan(1)
    } finally {
      for (const pair of pairs) pair.close()
    }
  })

  it('destroyed while its input waits: the waiting chunks are dropped, the outcome is aborted', async () => {
    const turns = new HeldTurns()
    const pair = await streamPair({ initiator: { policy: 'required' }, responder: { policy: 'required', turnBudget: turns } })
    try {
      const flight1 = new Promise<void>(resolve => pair.sockets.incoming.once('data', () => resolve()))
      await within(flight1, 5000, 'the initiator\'s key')
      expect(turns.held.length).to.equal(1)
      pair.responder.destroy()
      const outcome = await pair.responder.handshake
      expect(outcome.ok).to.equal(false)
      expect(outcome.ok ? undefined : outcome.error.code).to.equal('aborted')
      // The turn comes later and finds nothing: no step runs on a destroyed stream.
      turns.runHeld()
      expect(pair.responder.bytesSent).to.equal(0)
    } finally {
      pair.close()
    }
  })

  /** A responder whose input waits for turns the test runs, and the bytes it had received when its key waited. */
  async function responderWithWaitingKey (): Promise<{ pair: Awaited<ReturnType<typeof streamPair>>, turns: HeldTurns, waited: number }> {
    const turns = new HeldTurns()
    const pair = await streamPair({ initiator: { policy: 'required' }, responder: { policy: 'required', turnBudget: turns } })
    const flight1 = new Promise<void>(resolve => pair.sockets.incoming.once('data', () => resolve()))
    await within(flight1, 5000, 'the initiator\'s key')
    expect(turns.held.length).to.equal(1)
    return { pair, turns, waited: pair.responder.bytesReceived }
  }

  /** The responder read the key that waited, answered, and only then saw the peer close. */
  function expectKeyTakenBeforeClose (outcome: MseOutcome, waited: number): void {
    expect(outcome.ok).to.equal(false)
    if (outcome.ok) return
    expect(outcome.error.code).to.equal('peer-closed')
    expect(outcome.handshakeBytesReceived).to.equal(waited)
    expect(outcome.peerSentNoKey).to.equal(false)
    expect(outcome.failedStage).to.not.equal('peer-key')
  }

  it('a reset while the peer\'s key waits: the key is taken first, then the close', async () => {
    const { pair, waited } = await responderWithWaitingKey()
    try {
      expect(waited).to.be.greaterThanOrEqual(96)
      const outcome = nextEvent(pair.responder, 'handshake', 5000)
      // A reset comes as a socket error even while the socket is paused.
      pair.sockets.outgoing.resetAndDestroy()
      const [result] = await outcome as [MseOutcome]
      expectKeyTakenBeforeClose(result, waited)
    } finally {
      pair.close()
    }
  })

  it('a clean close while the peer\'s key waits: seen once the key has had its turn', async () => {
    const { pair, turns, waited } = await responderWithWaitingKey()
    try {
      const outcome = nextEvent(pair.responder, 'handshake', 5000)
      pair.sockets.outgoing.end()
      // The paused socket holds the end back until the waiting key has had its turn.
      await new Promise<void>(resolve => pair.sockets.outgoing.once('finish', () => resolve()))
      expect(pair.responder.outcome).to.equal(undefined)
      turns.runHeld()
      const [result] = await outcome as [MseOutcome]
      expectKeyTakenBeforeClose(result, waited)
    } finally {
      pair.close()
    }
  })
})
