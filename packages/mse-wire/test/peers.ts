/**
 * Peers for the adversarial tests: a listening server that wraps every accepted socket in an encrypted Wire
 * (the way an application would) and serves blocks, a healthy client for it, and scripted raw peers that
 * speak MSE only as far as a test wants (driving mse-core's sans-IO handshakes by hand) and then stall,
 * close or misbehave.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { InitiatorHandshake, ResponderHandshake, SkeyRegistry, type EncryptionPolicy, type SkeyLookup } from 'mse-core'
import { createEncryptedWire, type EncryptedWire, type MseOutcome } from '../src/index.js'
import { fetchBlocks, serveBlocks } from './helpers.js'
import { LOOPBACK, dial, listen, seededBytes, sha256, within } from 'test-support'

export interface MseServer {
  port: number
  infoHash: string
  data: Buffer
  /** The outcome of the connection whose remote port is `port` (our client's local port). */
  /** `since`: ignore a connection accepted before this instant (a closed connection's port can be reused at once). */
  outcomeFor (remotePort: number, ms: number, since?: number): Promise<MseOutcome & { at: number }>
  connections: EncryptedWire[]
  close (): void
}

/** A listening responder: every accepted socket becomes an encrypted Wire that serves `data`. */
export async function startMseServer (options: { policy?: EncryptionPolicy, stageTimeoutMs?: number, skeys?: SkeyLookup, infoHash?: string } = {}): Promise<MseServer> {
  const infoHash = options.infoHash ?? randomBytes(20).toString('hex')
  let skeys = options.skeys
  if (!skeys) {
    const registry = new SkeyRegistry()
    registry.add(infoHash)
    skeys = registry
  }
  const data = seededBytes(512 * 1024, `server ${infoHash}`)
  const connections: EncryptedWire[] = []
  const outcomes = new Map<number, { outcome: Promise<MseOutcome & { at: number }>, acceptedAt: number }>()
  const waiting = new Map<number, (outcome: Promise<MseOutcome & { at: number }>) => void>()
  const sockets = new Set<net.Socket>()
  const { server, port } = await listen(socket => {
    sockets.add(socket)
    const connection = createEncryptedWire(socket, { role: 'responder', policy: options.policy, skeys: skeys!, stageTimeoutMs: options.stageTimeoutMs })
    connections.push(connection)
    const outcome = connection.stream.handshake.then(o => ({ ...o, at: Date.now() }))
    const remotePort = socket.remotePort!
    outcomes.set(remotePort, { outcome, acceptedAt: Date.now() })
    waiting.get(remotePort)?.(outcome)
    connection.wire.once('handshake', (hash: any) => {
      connection.wire.handshake(hash, randomBytes(20).toString('hex'))
      serveBlocks(connection.wire, data)
    })
  })
  return {
    port,
    infoHash,
    data,
    connections,
    async outcomeFor (remotePort, ms, since = 0) {
      const known = outcomes.get(remotePort)
      if (known && known.acceptedAt >= since) return await within(known.outcome, ms, `the server's outcome for port ${remotePort}`)
      const arrived = new Promise<Promise<MseOutcome & { at: number }>>(resolve => waiting.set(remotePort, resolve))
      return await within(arrived.then(async o => await o), ms, `the server's outcome for port ${remotePort}`)
    },
    close () {
      server.close()
      for (const c of connections) c.stream.destroy()
      for (const s of sockets) s.destroy()
    }
  }
}

/** A well-behaved client: MSE (required), BitTorrent handshake, then 256 KiB fetched and checked. */
export async function healthyClient (server: MseServer, ms = 10_000): Promise<{ method?: string, ok: boolean, dataOk: boolean }> {
  const socket = await dial(server.port)
  // RC4: the served-meanwhile check compares a fixed method (AES is covered by the policy matrix).
  const { wire, stream } = createEncryptedWire(socket, { role: 'initiator', policy: 'required', infoHash: server.infoHash, aes: false })
  try {
    wire.handshake(server.infoHash, randomBytes(20).toString('hex'))
    const outcome = await within(stream.handshake, ms, 'the healthy client handshake')
    if (!outcome.ok) return { ok: false, dataOk: false }
    const length = 256 * 1024
    const got = await within(fetchBlocks(wire, length), ms, 'the healthy client blocks')
    return { ok: true, method: outcome.method, dataOk: sha256(got) === sha256(server.data.subarray(0, length)) }
  } finally {
    stream.destroy()
    socket.destroy()
  }
}

// ---- scripted raw peers ----------------------------------------------------------------------------------

/** A raw socket with an inbox: every byte received, and a way to wait for more. */
export class RawPeer {
  readonly socket: net.Socket
  received = Buffer.alloc(0)
  ended = false
  closed = false
  private wakeups: Array<() => void> = []

  constructor (socket: net.Socket) {
    this.socket = socket
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk])
      this.wake()
    })
    socket.on('end', () => { this.ended = true; this.wake() })
    socket.on('close', () => { this.closed = true; this.wake() })
  }

  static async dial (port: number): Promise<RawPeer> {
    return new RawPeer(await dial(port))
  }

  private wake (): void {
    const wakeups = this.wakeups
    this.wakeups = []
    for (const w of wakeups) w()
  }

  /** Waits until at least `n` bytes have arrived in total. */
  async receivedAtLeast (n: number, ms: number): Promise<Buffer> {
    await within((async () => {
      while (this.received.length < n) {
        if (this.closed) throw new Error(`connection closed after ${this.received.length} of ${n} bytes`)
        await new Promise<void>(resolve => this.wakeups.push(resolve))
      }
    })(), ms, `${n} bytes from the peer`)
    return this.received
  }

  /** Waits until the other side closed the connection (end or close). */
  async closedByPeer (ms: number): Promise<void> {
    await within((async () => {
      while (!this.ended && !this.closed) await new Promise<void>(resolve => this.wakeups.push(resolve))
    })(), ms, 'the peer to close the connection')
  }

  write (bytes: Uint8Array): void {
    this.socket.write(bytes)
  }
}

/**
 * Scripts the initiator's side of MSE with mse-core's sans-IO InitiatorHandshake: flight 1, then (once the
 * responder's key is in) flight 3, each handed to the test to send whole, in part or not at all.
 */
export class ScriptedInitiator {
  readonly handshake: InitiatorHandshake
  readonly flight1: Uint8Array
  private fed = 0

  constructor (infoHash: string, policy: EncryptionPolicy = 'required') {
    // A plain-spec peer (another client): no PadC/PadD extension.
    this.handshake = new InitiatorHandshake({ infoHash, policy, extension: false })
    this.flight1 = this.handshake.start(Date.now()).send
  }

  /** Feeds what the peer has sent so far; returns flight 3 once the responder's key has arrived. */
  async flight3 (peer: RawPeer, ms: number): Promise<Uint8Array> {
    const deadline = Date.now() + ms
    for (;;) {
      const fresh = peer.received.subarray(this.fed)
      this.fed = peer.received.length
      const step = this.handshake.receive(new Uint8Array(fresh), Date.now())
      if (step.status === 'failed') throw step.error
      if (step.send.length > 0) return step.send
      await peer.receivedAtLeast(this.fed + 1, Math.max(1, deadline - Date.now()))
    }
  }
}

/** Scripts the responder's side: flight 2 once the initiator's key is in, flight 4 once flight 3 is. */
export class ScriptedResponder {
  readonly handshake: ResponderHandshake
  private fed = 0

  constructor (infoHash: string, policy: EncryptionPolicy = 'preferred') {
    const skeys = new SkeyRegistry()
    skeys.add(infoHash)
    // A plain-spec peer (another client): no PadC/PadD extension.
    this.handshake = new ResponderHandshake({ skeys, policy, extension: false })
    this.handshake.start(Date.now())
  }

  /** Feeds the peer's bytes until the handshake wants to send something; returns that. */
  async nextFlight (peer: RawPeer, ms: number): Promise<Uint8Array> {
    const deadline = Date.now() + ms
    for (;;) {
      const fresh = peer.received.subarray(this.fed)
      this.fed = peer.received.length
      const step = this.handshake.receive(new Uint8Array(fresh), Date.now())
      if (step.status === 'failed') throw step.error
      if (step.send.length > 0) return step.send
      await peer.receivedAtLeast(this.fed + 1, Math.max(1, deadline - Date.now()))
    }
  }
}

/** A one-connection server for scripted responders; resolves the accepted socket as a RawPeer. */
export async function rawServer (): Promise<{ port: number, accepted: Promise<RawPeer>, close: () => void }> {
  let accept!: (peer: RawPeer) => void
  const accepted = new Promise<RawPeer>(resolve => { accept = resolve })
  const sockets: net.Socket[] = []
  const { server, port } = await listen(socket => {
    sockets.push(socket)
    accept(new RawPeer(socket))
  })
  return { port, accepted, close () { server.close(); for (const s of sockets) s.destroy() } }
}

export { LOOPBACK }
