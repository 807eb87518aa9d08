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
