/**
 * A legitimate incoming handshake as the load and flood benchmarks time it: connect from a chosen local
 * address, MSE initiator (`required`) with the BitTorrent handshake as IA, done when the responder's
 * 68-byte BitTorrent handshake has arrived decrypted.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { MseStream } from 'mse-wire'

const PER_CONNECTION_LIMIT_MS = 60_000

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)]!
}

export interface InitiatorReport {
  count: number
  completed: number
  /** Failed connections by cause: `refused` (closed with nothing received), `error:<code>`, `timeout`. */
  failures: Record<string, number>
  /** Completion times (ms from connect() to the peer's BitTorrent handshake), completed ones only. */
  p50Ms: number
  p99Ms: number
  /** From the first connect() (of any initiator process) to the last completion. */
  elapsedMs: number
  handshakesPerS: number
  /** CPU time of all initiator processes over the burst (ms): what the bench's own side took from the machine. */
  cpuMs: number
}

/** What one initiator process measured (load.ts merges several). */
export interface InitiatorShare {
  /** Epoch ms (performance.timeOrigin based) of the first connect() and the last completion. */
  startedAt: number
  endedAt: number
  /** Completion times (ms) of the completed connections. */
  times: number[]
  failures: Record<string, number>
  /** CPU time (user + system) this initiator process used over the burst (ms). */
  cpuMs: number
}

/** Merges the initiator processes' shares of one burst. */
export function mergeShares (shares: InitiatorShare[], count: number): InitiatorReport {
  const times = shares.flatMap(s => s.times).sort((a, b) => a - b)
  const failures: Record<string, number> = {}
  for (const share of shares) for (const [cause, n] of Object.entries(share.failures)) failures[cause] = (failures[cause] ?? 0) + n
  const elapsedMs = Math.max(...shares.map(s => s.endedAt)) - Math.min(...shares.map(s => s.startedAt))
  return { count, completed: times.length, failures, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), elapsedMs, handshakesPerS: times.length / (elapsedMs / 1000), cpuMs: shares.reduce((sum, s) => sum + s.cpuMs, 0) }
}

export function bittorrentHandshake (infoHash: Buffer): Buffer {
  return Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8), infoHash, randomBytes(20)])
}

/**
 * One connection: resolves with its completion time in ms, or a failure cause. `plaintext`: no MSE, the
 * BitTorrent handshake in clear (a responder with encryption off), through the same stream.
 */
export async function oneHandshake (port: number, infoHash: Buffer, localAddress: string, encryption: 'mse' | 'plaintext' = 'mse'): Promise<number | string> {
  return await new Promise(resolve => {
    const started = performance.now()
    const socket = net.connect({ port, host: '127.0.0.1', localAddress })
    let socketError: string | undefined
    let connectedAt: number | undefined
    socket.on('error', (err: NodeJS.ErrnoException) => { socketError ??= err.code ?? err.message })
    socket.once('connect', () => { connectedAt = performance.now() })
    const stream = new MseStream(socket, { role: 'initiator', policy: encryption === 'mse' ? 'required' : 'disabled', infoHash })
    let received = 0
    let settled = false
    const finish = (result: number | string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      stream.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => finish('timeout'), PER_CONNECTION_LIMIT_MS)
    stream.on('error', () => {})
    // streamx types a readable's data as unknown; MseStream pushes Uint8Arrays.
    stream.on('data', (chunk: unknown) => {
      if (chunk instanceof Uint8Array) received += chunk.length
      if (received >= 68) finish(performance.now() - started)
    })
    stream.on('close', () => {
      const outcome = stream.outcome
      // Never connected (the listener's backlog was full and the SYNs went unanswered, ...): the socket error.
      if (connectedAt === undefined) finish(`connect:${socketError ?? 'closed'}`)
      // Connected, and closed or reset before any byte of the responder's key: refused unread.
      else if (outcome?.error?.code === 'peer-closed' && outcome.handshakeBytesReceived === 0) finish('refused')
      else finish(outcome?.error ? `error:${outcome.error.code}` : 'closed')
    })
    stream.write(bittorrentHandshake(infoHash))
  })
}
