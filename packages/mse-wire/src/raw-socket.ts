import { lingerThenClose, type LingerOptions, type LingerPlan } from './probe-linger.js'

/**
 * What the encrypted stream needs from the connection under it: the common surface of a Node
 * `net.Socket`, any Node duplex and a streamx duplex. Nothing here assumes TCP.
 */
export interface RawSocket {
  write (data: Uint8Array): boolean
  end (): unknown
  destroy (error?: Error): unknown
  pause (): unknown
  resume (): unknown
  on (event: 'data', listener: (chunk: Uint8Array) => void): unknown
  on (event: 'end' | 'close' | 'drain', listener: () => void): unknown
  on (event: 'error', listener: (error: Error) => void): unknown
  once (event: 'drain', listener: () => void): unknown
  prependListener (event: 'end' | 'close', listener: () => void): unknown
  prependListener (event: 'error', listener: (error: Error) => void): unknown
  removeListener (event: string, listener: (...args: any[]) => void): unknown
  /** TCP only (net.Socket): used when present. */
  setNoDelay?: (noDelay?: boolean) => unknown
  /** Node streams: batches the writes of one tick into one (used when present). */
  cork?: () => unknown
  uncork?: () => unknown
  remoteAddress?: string
  remotePort?: number
  localAddress?: string
  localPort?: number
}

export interface RawSocketListeners {
  data: (chunk: Uint8Array) => void
  end: () => void
  error: (error: Error) => void
  close: () => void
}

/**
 * The raw socket's lifecycle under an MseStream: our listeners, ahead of those already on it for end,
 * error and close; byte counts as on the wire; payload writes corked for the tick; one parked write waiting for
 * 'drain'; and at the end its release: destroyed, or handed to the probe linger.
 */
export class RawConnection {
  readonly socket: RawSocket
  /** Bytes read and written so far (handshake and payload, as on the wire). */
  bytesReceived = 0
  bytesSent = 0
  private readonly listeners: RawSocketListeners
  private drainCallback: ((error: Error | null) => void) | undefined
  /** The socket is corked until the end of this tick (`writeAll`). */
  private corked = false

  constructor (socket: RawSocket, listeners: RawSocketListeners) {
    this.socket = socket
    this.listeners = listeners
    socket.on('data', this.onData)
    // Ahead of listeners already on the socket (webtorrent's own destroy the peer, and with it this
    // stream, on 'error'): a reset during the handshake must be seen here as the peer closing.
    socket.prependListener('end', listeners.end)
    socket.prependListener('error', listeners.error)
    socket.prependListener('close', listeners.close)
  }

  write (bytes: Uint8Array): boolean {
    this.bytesSent += bytes.length
    return this.socket.write(bytes)
  }

  /**
   * Payload: writes `pieces` in order; false when the socket wants a 'drain'. The socket stays corked until
   * the end of this tick, so the payload writes of one tick leave in one writev: bittorrent-protocol writes
   * each message on its own, and with TCP_NODELAY each write would be a syscall and a segment (~10% of a
   * responder's time in the load bench). Handshake flights go through `write` and keep their scattered
   * writes (flight-scatter.ts).
   */
  writeAll (pieces: Uint8Array[]): boolean {
    this.corkForThisTick()
    let flowing = true
    for (const piece of pieces) if (piece.length > 0) flowing = this.write(piece)
    return flowing
  }

  /** Calls `callback` on the socket's next 'drain' (or with an error from `abandonDrain`). */
  afterDrain (callback: (error: Error | null) => void): void {
    this.drainCallback = callback
    this.socket.once('drain', this.onDrain)
  }

  /** A write parked for 'drain' fails with `error`: the stream is going away. */
  abandonDrain (error: Error): void {
    const callback = this.drainCallback
    this.drainCallback = undefined
    this.socket.removeListener('drain', this.onDrain)
    callback?.(error)
  }

  /**
   * Our listeners come off, except an error sink: a late socket error must not become an uncaught
   * exception. Then the socket is destroyed, or lingers (a failed responder, docs/probe-resistance.md).
   */
  release (linger: { plan: LingerPlan, options: LingerOptions } | undefined): void {
    this.socket.removeListener('data', this.onData)
    this.socket.removeListener('end', this.listeners.end)
    this.socket.removeListener('close', this.listeners.close)
    this.socket.removeListener('error', this.listeners.error)
    this.socket.on('error', () => {})
    if (linger) lingerThenClose(this.socket, { ...linger.plan, bytesRead: this.bytesReceived }, linger.options)
    else this.socket.destroy()
  }

  private corkForThisTick (): void {
    if (this.corked || typeof this.socket.cork !== 'function') return
    this.corked = true
    this.socket.cork()
    process.nextTick(this.uncork)
  }

  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork?.()
  }

  private readonly onData = (chunk: Uint8Array): void => {
    this.bytesReceived += chunk.length
    this.listeners.data(chunk)
  }

  private readonly onDrain = (): void => {
    const callback = this.drainCallback
    this.drainCallback = undefined
    callback?.(null)
  }
}
