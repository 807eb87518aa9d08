import { pipeline } from 'streamx'
import { assertCompatibleBittorrentProtocol, Wire } from './bittorrent-protocol-compat.js'
import type { BittorrentWire } from './bittorrent-wire.js'
import { MseStream, type MseStreamOptions } from './encrypted-stream.js'
import type { RawSocket } from './raw-socket.js'

export interface EncryptedWireOptions extends MseStreamOptions {
  /** bittorrent-protocol's connection type; default `tcpOutgoing` / `tcpIncoming` by role. */
  type?: string
}

export interface EncryptedWire {
  wire: BittorrentWire
  stream: MseStream
}

/**
 * socket <-> MSE stream <-> Wire, for either role. The Wire is created with its own PE switched off, so
 * the two MSE layers never both run. Errors and closes propagate both ways (streamx pipeline).
 */
export function createEncryptedWire (socket: RawSocket, options: EncryptedWireOptions): EncryptedWire {
  assertCompatibleBittorrentProtocol()
  const stream = new MseStream(socket, options)
  const type = options.type ?? (options.role === 'initiator' ? 'tcpOutgoing' : 'tcpIncoming')
  const wire = new Wire(type, 0)
  pipeline(stream, wire, stream)
  return { wire, stream }
}
