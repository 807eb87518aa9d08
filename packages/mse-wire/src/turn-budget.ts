/**
 * Handshake work shares the event loop with everything else the process does. When a burst of peers' keys
 * arrives in one poll (a flash crowd, a thousand connections at once), Node runs every readable socket's
 * callback in that one loop turn: every DH exponentiation, every cipher set-up and, as handshakes complete,
 * every webtorrent Peer and Wire set-up, before a timer or any other I/O gets a turn. The turn grows with the
 * burst, and the loop stalls for as long.
 *
 * A TurnBudget gives handshake work a slice of each loop turn. Work runs at once while the slice has time
 * left, so an idle client handshakes with no added latency; past the slice it is queued, in arrival order,
 * and the queue drains a slice per turn from `setImmediate` (which runs once the turn's I/O callbacks are
 * done, and a second one scheduled from there runs in the next turn, after that turn's timers). One process
 * shares one budget: every connection's handshake competes for the same loop.
 */

/** Default slice of one loop turn for handshake work (ms): a few handshakes' worth, well under a 20 ms stall. */
export const DEFAULT_TURN_SLICE_MS = 4

export interface TurnBudgetOptions {
  /** Milliseconds of handshake work per loop turn (default 4). 0: one task per turn once one has run. */
  sliceMs?: number
  /** The clock, in ms (default performance.now); injectable for tests. */
  now?: () => number
}

export class TurnBudget {
  readonly sliceMs: number
  private readonly now: () => number
  private readonly queue: Array<() => void> = []
  /** When the current slice started; undefined between turns (the next task starts a slice). */
  private sliceStartedAt: number | undefined
  private immediateScheduled = false
  /** When the last drain's tasks returned, and how many ran: see `drain`. Undefined once the queue is empty. */
  private lastDrainEndedAt: number | undefined
  private lastDrainTasks = 0

  constructor (options: TurnBudgetOptions = {}) {
    const sliceMs = options.sliceMs ?? DEFAULT_TURN_SLICE_MS
    if (!(sliceMs >= 0) || !Number.isFinite(sliceMs)) throw new RangeError(`turn budget: sliceMs must be a finite number >= 0 (got ${String(sliceMs)})`)
    this.sliceMs = sliceMs
    this.now = options.now ?? (() => performance.now())
  }

  /** Tasks waiting for a later turn. */
  get queued (): number {
    return this.queue.length
  }

  /**
   * Whether work may run now: nothing is queued ahead of it and this turn's slice has time left. Starts a
   * slice (and schedules its end) when none is running. A caller that gets false queues its work with `defer`.
   */
  hasTime (): boolean {
    if (this.queue.length > 0) return false
    if (this.sliceStartedAt === undefined) {
      this.startSlice()
      return true
    }
    return this.now() - this.sliceStartedAt < this.sliceMs
  }

  /** Queues `task` for a later slice (in order with everything queued before it). */
  defer (task: () => void): void {
    this.queue.push(task)
    this.scheduleDrain()
  }

  /** Runs `task` now if the slice allows, else queues it. */
  run (task: () => void): void {
    if (this.hasTime()) task()
    else this.defer(task)
  }

  private startSlice (): void {
    this.sliceStartedAt = this.now()
    this.scheduleDrain()
  }

  private scheduleDrain (): void {
    if (this.immediateScheduled) return
    this.immediateScheduled = true
    setImmediate(this.drain)
  }

  /**
   * Ends the turn's slice and runs queued tasks for one new slice; what is left waits for the next turn.
   *
   * A task's synchronous part is not all it costs: what its completion sets off runs after this callback
   * returns, as promise reactions and ticks (webtorrent building a Peer and Wire and answering the peer's
   * BitTorrent handshake, most of an incoming connection's cost). So the time from the last drain's end to
   * this one (those reactions, then the turn's timers and I/O callbacks) is charged to the tasks that drain
   * ran, and each task run here is counted at that much on top of the time it takes.
   */
  private readonly drain = (): void => {
    this.immediateScheduled = false
    this.sliceStartedAt = undefined
    if (this.queue.length === 0) {
      this.lastDrainEndedAt = undefined
      return
    }
    this.startSlice()
    const startedAt = this.sliceStartedAt!
    const afterCostPerTask = this.lastDrainEndedAt === undefined ? 0 : (startedAt - this.lastDrainEndedAt) / this.lastDrainTasks
    let ran = 0
    try {
      // At least one task per turn, so the queue always moves, whatever the slice.
      do {
        ran++
        this.queue.shift()!()
      } while (this.queue.length > 0 && this.now() - startedAt + ran * afterCostPerTask < this.sliceMs)
    } finally {
      this.lastDrainEndedAt = this.now()
      this.lastDrainTasks = ran
    }
  }
}

/** The budget every MseStream of this process shares unless given its own. */
export const sharedTurnBudget = new TurnBudget()
