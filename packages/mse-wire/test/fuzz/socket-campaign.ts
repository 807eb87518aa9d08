/**
 * Runs socket fuzz cases (socket-cases.ts) against MseStream over real TCP on 127.0.0.1, many at a time, and
 * checks for each stream: exactly one 'handshake' outcome, a failure is a typed MseError (never
 * `internal-error`), the stream closes (bounded wait), and what a reader got is a prefix of what the other
 * side wrote. Over the campaign: no uncaught exception, no socket, server or timer handle left behind, and
 * the heap back near where it started.
 */
import net from 'node:net'
import fc from 'fast-check'
import { isMseError, nodeCryptoProvider, type MseError } from 'mse-core'
import { MseStream, type MseOutcome } from '../../src/index.js'
import { CrashGuard, LOOPBACK, listen, within } from 'test-support'
import { RawPeer } from '../peers.js'
import { expand, initiatorStream, responderStream, type PeerStream } from '../../../mse-core/test/fuzz/encode.js'
import { Violation, check } from '../../../mse-core/test/fuzz/oracle.js'
import { FUZZ_INFO_HASH, FUZZ_REGISTRY, keyPool, type PoolEntry } from '../../../mse-core/test/fuzz/pool.js'
import { bittorrentHandshake } from '../../../mse-core/test/helpers/pair.js'
import { socketCase, type Ending, type SocketCase, type Writes } from './socket-cases.js'

/** Stage deadline of the streams under test: only a peer that stalls meets it. */
const STAGE_TIMEOUT_MS = 5_000
/** How long a stream may take to close once its peer is gone (generous: CI machines are shared). */
const CLOSE_WAIT_MS = 30_000
const noop = (): void => {}

export interface SocketCrash { error: string, case: SocketCase }

export interface SocketStats {
  cases: number
  /** `<scenario> <initiator outcome> / <responder outcome>`, e.g. `pair ok:rc4 / ok:rc4`. */
  outcomes: Record<string, number>
  /** 'error' events the streams emitted, by error code. */
  streamErrors: Record<string, number>
  crashes: SocketCrash[]
  uncaught: string[]
  handles: { before: Record<string, number>, after: Record<string, number> }
  heapMiB: { before: number, after: number, peakRss: number }
  ms: number
}

/** A listening socket whose accepted connections are matched to dials by port, for many at a time. */
class Listener {
  private readonly waiting = new Map<number, (socket: net.Socket) => void>()
  private readonly arrived = new Map<number, net.Socket>()

  private constructor (readonly server: net.Server, readonly port: number) {}

  static async open (): Promise<Listener> {
    let self: Listener | undefined
    const { server, port } = await listen(socket => self!.onConnection(socket))
    self = new Listener(server, port)
    return self
  }

  private onConnection (socket: net.Socket): void {
    socket.on('error', noop)
    const port = socket.remotePort!
    const resolve = this.waiting.get(port)
    if (resolve) {
      this.waiting.delete(port)
      resolve(socket)
    } else {
      this.arrived.set(port, socket)
    }
  }

  async accepted (port: number): Promise<net.Socket> {
    const socket = this.arrived.get(port)
    if (socket) {
      this.arrived.delete(port)
      return socket
    }
    return await within(new Promise<net.Socket>(resolve => this.waiting.set(port, resolve)), CLOSE_WAIT_MS, `accepting port ${port}`)
  }

  /** Bounded: a connection that never closes (a leak, reported by the handle count) must not hang the run. */
  async close (): Promise<void> {
    await within(new Promise<void>(resolve => this.server.close(() => resolve())), CLOSE_WAIT_MS, 'the listener to close').catch(noop)
  }
}

async function dial (port: number): Promise<net.Socket> {
  const socket = net.connect(port, LOOPBACK)
  socket.on('error', noop)
  socket.setNoDelay(true)
  await within(new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('close', () => reject(new Error('closed before connecting')))
  }), CLOSE_WAIT_MS, 'connect')
  return socket
}

async function closed (emitter: { once: (event: 'close', listener: () => void) => unknown }, isClosed: boolean, what: string): Promise<void> {
  if (isClosed) return
  try {
    await within(new Promise<void>(resolve => emitter.once('close', resolve)), CLOSE_WAIT_MS, what)
  } catch (err) {
    throw new Violation(`${what} never closed: ${(err as Error).message}`)
  }
}

const turn = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

/** Writes `bytes` in the case's pieces; stops quietly once the socket or stream is gone. */
async function writePieces (target: { write: (b: Uint8Array) => unknown, destroyed: boolean }, bytes: Uint8Array, writes: Writes): Promise<void> {
  let at = 0
  for (const size of [...writes.sizes, Infinity]) {
    if (at >= bytes.length || target.destroyed) return
    const piece = bytes.subarray(at, Math.min(bytes.length, at + size))
    at += piece.length
    target.write(piece)
    if (writes.pause) await turn()
  }
}

function finish (socket: net.Socket, ending: Ending): void {
  if (socket.destroyed) return
  if (ending === 'end') socket.end()
  else if (ending === 'destroy') socket.destroy()
  // Node 20's resetAndDestroy() after end() (shutdown in flight) fails with EINVAL and never closes the handle:
  // the fuzzer found it (test-fixtures/fuzz/socket/crash-0ea0..., -289e..., -83f6..., -b15c...). Destroy then.
  else if (socket.writableEnded) socket.destroy()
  else socket.resetAndDestroy()
}

/** One MseStream under observation: its outcomes, what it read, its errors, its close. */
class Watched {
  outcomes: MseOutcome[] = []
  readonly read: Buffer[] = []
  readonly errors: Error[] = []
  readonly closing: Promise<void>

  private readLength = 0
  private wakeup: (() => void) | undefined

  constructor (readonly stream: MseStream, readonly name: string) {
    stream.on('handshake', (outcome: unknown) => this.outcomes.push(outcome as MseOutcome))
    stream.on('data', (chunk: unknown) => {
      this.read.push(Buffer.from(chunk as Uint8Array))
      this.readLength += (chunk as Uint8Array).length
      this.wakeup?.()
    })
    stream.on('close', () => this.wakeup?.())
    stream.on('error', (error: Error) => this.errors.push(error))
    this.closing = closed(stream, stream.destroyed, `${name} MseStream`)
  }

  label (): string {
    const o = this.outcomes[0]
    if (!o) return 'none'
    return o.ok ? `ok:${o.method ?? '?'}` : `failed:${o.error?.code ?? '?'}`
  }

  /** After close: one outcome, typed. */
  check (): void {
    check(this.outcomes.length === 1, `${this.name}: ${this.outcomes.length} 'handshake' outcomes`)
    const o = this.outcomes[0]!
    if (!o.ok) {
      check(isMseError(o.error), `${this.name}: failed without an MseError: ${String(o.error)}`)
      check((o.error as MseError).code !== 'internal-error', `${this.name}: internal-error: ${o.error!.message}`)
    }
  }

  /** Resolves once `n` bytes were read or the stream closed (the close wait bounds it). */
  async receivedAtLeast (n: number): Promise<void> {
    while (this.readLength < n && !this.stream.destroyed) {
      await new Promise<void>(resolve => { this.wakeup = resolve })
    }
  }

  received (): Buffer {
    return Buffer.concat(this.read)
  }
}

/** Ends the stream once it has read `expected` bytes (or closed). */
async function endStream (w: Watched, expected: number): Promise<void> {
  if (expected > 0) {
    try {
      await within(w.receivedAtLeast(expected), CLOSE_WAIT_MS, `${expected} bytes`)
    } catch (err) {
      throw new Violation(`${w.name} stalled: ${(err as Error).message}`)
    }
  }
  if (!w.stream.destroyed) w.stream.end(undefined)
}

function isPrefix (got: Uint8Array, of: Uint8Array): boolean {
  return got.length <= of.length && Buffer.compare(got, of.subarray(0, got.length)) === 0
}

async function runPair (c: Extract<SocketCase, { scenario: 'pair' }>, listener: Listener, stats: SocketStats): Promise<string> {
  const outgoing = await dial(listener.port)
  const incoming = await listener.accepted(outgoing.localPort!)
  const aToB = Buffer.concat([bittorrentHandshake(FUZZ_INFO_HASH), expand(c.aToB)])
  const bToA = Buffer.from(expand(c.bToA))
  const initiator = new Watched(new MseStream(outgoing, {
    role: 'initiator',
    policy: c.initiatorPolicy,
    infoHash: FUZZ_INFO_HASH,
    connect: c.initiatorPolicy === 'disabled' ? 'plaintext' : 'mse',
    stageTimeoutMs: STAGE_TIMEOUT_MS
  }), 'initiator')
  const responder = new Watched(new MseStream(incoming, {
    role: 'responder', policy: c.responderPolicy, skeys: FUZZ_REGISTRY, stageTimeoutMs: STAGE_TIMEOUT_MS
  }), 'responder')
  const socketsClosed = Promise.all([closed(outgoing, outgoing.closed, 'initiator socket'), closed(incoming, incoming.closed, 'responder socket')])

  if (c.fault.kind !== 'none') {
    const raw = c.fault.side === 'initiator' ? outgoing : incoming
    const kind = c.fault.kind
    let seen = 0
    const strike = (): void => finish(raw, kind)
    if (c.fault.afterBytes === 0) setImmediate(strike)
    else {
      const onData = (chunk: Uint8Array): void => {
        seen += chunk.length
        if (seen >= c.fault.afterBytes) {
          raw.removeListener('data', onData)
          strike()
        }
      }
      raw.on('data', onData)
    }
  }

  const endAfterReceiving = c.endAfter === 'received'
  await Promise.all([
    writePieces(initiator.stream, aToB, c.writes).then(async () => await endStream(initiator, endAfterReceiving ? bToA.length : 0)),
    writePieces(responder.stream, bToA, c.writes).then(async () => await endStream(responder, endAfterReceiving ? aToB.length : 0))
  ])
  await Promise.all([initiator.closing, responder.closing, socketsClosed])
  await turn()
  initiator.check()
  responder.check()
  for (const w of [initiator, responder]) {
    for (const e of w.errors) {
      const code = isMseError(e) ? `mse:${e.code}` : (e as NodeJS.ErrnoException).code ?? e.message
      stats.streamErrors[code] = (stats.streamErrors[code] ?? 0) + 1
    }
  }
  check(isPrefix(responder.received(), aToB), 'the responder read bytes the initiator never wrote')
  check(isPrefix(initiator.received(), bToA), 'the initiator read bytes the responder never wrote')
  const compatible = c.initiatorPolicy === 'disabled' ? c.responderPolicy !== 'required' : c.responderPolicy !== 'disabled'
  if (c.fault.kind === 'none' && compatible && endAfterReceiving) {
    check(initiator.outcomes[0]!.ok && responder.outcomes[0]!.ok, `compatible policies failed: ${initiator.label()} / ${responder.label()}`)
    check(responder.received().length === aToB.length && initiator.received().length === bToA.length,
      `clean connection lost data: ${responder.received().length}/${aToB.length} and ${initiator.received().length}/${bToA.length}`)
  }
  return `pair ${initiator.label()} / ${responder.label()}`
}

/** Our fuzz bytes with the secret the live stream actually derived (known once its key arrived). */
async function withLiveSecret (peer: RawPeer, entry: PoolEntry, draft: PeerStream, encode: (e: PoolEntry) => PeerStream, keyIntact: boolean): Promise<Uint8Array> {
  if (!keyIntact) return draft.bytes
  try {
    const got = await peer.receivedAtLeast(96, CLOSE_WAIT_MS)
    const secret = nodeCryptoProvider.dhSharedSecret(entry.peerPrivateKey, got.subarray(0, 96))
    return encode({ ...entry, secret }).bytes
  } catch {
    return draft.bytes // it closed first: what we send no longer matters
  }
}

function keyIntact (draft: PeerStream, entry: PoolEntry, opening: string): boolean {
  return opening === 'key' && draft.firstFlightLength >= 96 && Buffer.compare(draft.bytes.subarray(0, 96), entry.peerKey) === 0
}

async function runRawInitiator (c: Extract<SocketCase, { scenario: 'raw-initiator' }>, listener: Listener): Promise<string> {
  const socket = await dial(listener.port)
  const incoming = await listener.accepted(socket.localPort!)
  const responder = new Watched(new MseStream(incoming, {
    role: 'responder', policy: c.peer.policy, skeys: FUZZ_REGISTRY, maxInitialPayload: c.peer.maxInitialPayload, stageTimeoutMs: STAGE_TIMEOUT_MS
  }), 'responder')
  const peer = new RawPeer(socket)
  const socketsClosed = Promise.all([closed(socket, socket.closed, 'raw initiator socket'), closed(incoming, incoming.closed, 'responder socket')])
  const pool = keyPool('responder')
  const entry = pool[c.peer.pool % pool.length]!
  const draft = initiatorStream(c.peer, { ...entry, secret: new Uint8Array(96) })
  await writePieces(socket, draft.bytes.subarray(0, draft.firstFlightLength), c.writes)
  const bytes = await withLiveSecret(peer, entry, draft, e => initiatorStream(c.peer, e), keyIntact(draft, entry, c.peer.opening.kind))
  await writePieces(socket, bytes.subarray(draft.firstFlightLength), c.writes)
  finish(socket, c.ending)
  await Promise.all([responder.closing, socketsClosed])
  await turn()
  responder.check()
  return `raw-initiator - / ${responder.label()}`
}

async function runRawResponder (c: Extract<SocketCase, { scenario: 'raw-responder' }>, listener: Listener): Promise<string> {
  const outgoing = await dial(listener.port)
  const incoming = await listener.accepted(outgoing.localPort!)
  const initiator = new Watched(new MseStream(outgoing, {
    role: 'initiator', policy: c.initiatorPolicy, infoHash: FUZZ_INFO_HASH, stageTimeoutMs: STAGE_TIMEOUT_MS
  }), 'initiator')
  initiator.stream.write(bittorrentHandshake(FUZZ_INFO_HASH))
  const peer = new RawPeer(incoming)
  const socketsClosed = Promise.all([closed(outgoing, outgoing.closed, 'initiator socket'), closed(incoming, incoming.closed, 'raw responder socket')])
  const pool = keyPool('initiator')
  const entry = pool[c.peer.pool % pool.length]!
  const draft = responderStream(c.peer, { ...entry, secret: new Uint8Array(96) })
  const intact = keyIntact(draft, entry, c.peer.opening.kind)
  const bytes = await withLiveSecret(peer, entry, draft, e => responderStream(c.peer, e), intact)
  const seen = peer.received.length
  await writePieces(incoming, bytes.subarray(0, draft.firstFlightLength), c.writes)
  if (intact && draft.firstFlightLength <= 608) {
    // As a real responder: flight 4 only once flight 3 is in (else 608+ bytes would arrive before its reply).
    await peer.receivedAtLeast(seen + 1, CLOSE_WAIT_MS).catch(noop)
  }
  await writePieces(incoming, bytes.subarray(draft.firstFlightLength), c.writes)
  finish(incoming, c.ending)
  await Promise.all([initiator.closing, socketsClosed])
  await turn()
  initiator.check()
  return `raw-responder ${initiator.label()} / -`
}

function resources (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) {
    if (name === 'TCPSocketWrap' || name === 'TCPServerWrap' || name === 'Timeout') counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

function heapMiB (): number {
  (globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().heapUsed / 2 ** 20
}

export interface SocketCampaignOptions {
  cases: number
  seed: number
  /** Cases in flight at once. */
  concurrency?: number
  /** Run these before the generated ones (stored reproducers). */
  examples?: SocketCase[]
  onProgress?: (stats: SocketStats) => void
}

export async function runSocketCampaign (options: SocketCampaignOptions): Promise<SocketStats> {
  const concurrency = options.concurrency ?? 16
  // Let the caller's own timers start first (mocha arms a test's timeout after the test function returns).
  await turn()
  const started = Date.now()
  const stats: SocketStats = {
    cases: 0,
    outcomes: {},
    streamErrors: {},
    crashes: [],
    uncaught: [],
    handles: { before: resources(), after: {} },
    heapMiB: { before: heapMiB(), after: 0, peakRss: 0 },
    ms: 0
  }
  const guard = new CrashGuard()
  guard.install()
  keyPool('initiator')
  keyPool('responder')
  const listener = await Listener.open()
  try {
    const queue: SocketCase[] = [...(options.examples ?? [])]
    let generated = 0
    let batch = 0
    const next = (): SocketCase | undefined => {
      if (queue.length === 0 && generated < options.cases) {
        const n = Math.min(1000, options.cases - generated)
        queue.push(...fc.sample(socketCase, { numRuns: n, seed: options.seed + batch++ }))
        generated += n
      }
      return queue.shift()
    }
    const worker = async (): Promise<void> => {
      for (let c = next(); c !== undefined; c = next()) {
        let outcome: string
        try {
          outcome = c.scenario === 'pair'
            ? await runPair(c, listener, stats)
            : c.scenario === 'raw-initiator' ? await runRawInitiator(c, listener) : await runRawResponder(c, listener)
        } catch (err) {
          const error = (err as Error)?.stack ?? String(err)
          outcome = `${c.scenario} crash`
          if (!stats.crashes.some(k => k.error.split('\n')[0] === error.split('\n')[0])) stats.crashes.push({ error, case: c })
        }
        stats.cases++
        stats.outcomes[outcome] = (stats.outcomes[outcome] ?? 0) + 1
        if (stats.cases % 500 === 0) {
          stats.heapMiB.peakRss = Math.max(stats.heapMiB.peakRss, process.memoryUsage().rss / 2 ** 20)
          stats.ms = Date.now() - started
          options.onProgress?.(stats)
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
  } finally {
    await listener.close()
    guard.uninstall()
    stats.uncaught.push(...guard.errors.map(error => (error as Error)?.stack ?? String(error)))
  }
  await turn()
  stats.handles.after = resources()
  stats.heapMiB.after = heapMiB()
  stats.heapMiB.peakRss = Math.max(stats.heapMiB.peakRss, process.memoryUsage().rss / 2 ** 20)
  stats.ms = Date.now() - started
  return stats
}
