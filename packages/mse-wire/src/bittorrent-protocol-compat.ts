import UpstreamWire from 'bittorrent-protocol'
import type { BittorrentWireClass } from './bittorrent-wire.js'

/** bittorrent-protocol's Wire, seen through mse-wire's own declaration of it. */
export const Wire = UpstreamWire as unknown as BittorrentWireClass

/**
 * What mse-wire relies on in bittorrent-protocol, checked once at start-up so that a future release that
 * changes it fails loudly here instead of silently running two MSE layers (or none):
 * - the default export is the Wire class, a streamx duplex with handshake() and 'handshake' events;
 * - `new Wire(type, 0)` switches its own PE off: no encryptor, and it parses a plaintext handshake.
 */
export class IncompatibleBittorrentProtocolError extends Error {
  override readonly name = 'IncompatibleBittorrentProtocolError'
}

let checked: true | IncompatibleBittorrentProtocolError | undefined

export function assertCompatibleBittorrentProtocol (): void {
  checked ??= probe()
  if (checked !== true) throw checked
}

function probe (): true | IncompatibleBittorrentProtocolError {
  const fail = (what: string): IncompatibleBittorrentProtocolError => new IncompatibleBittorrentProtocolError(
    `mse-wire cannot run on this bittorrent-protocol: ${what}. mse-wire was built for bittorrent-protocol 5 ` +
    '(new Wire(type, peEnabled) with peEnabled 0 meaning no protocol encryption). Pin bittorrent-protocol@5 or update mse-wire.')
  if (typeof Wire !== 'function') return fail('its default export is not the Wire class')
  for (const method of ['handshake', 'pipe', 'destroy', 'write', 'end']) {
    if (typeof (Wire.prototype as any)[method] !== 'function') return fail(`Wire.prototype.${method} is missing`)
  }
  let probeWire: any
  try {
    probeWire = new (Wire as any)('tcpIncoming', 0)
  } catch (err) {
    return fail(`new Wire('tcpIncoming', 0) threw: ${(err as Error).message}`)
  }
  try {
    if (!('_peEnabled' in probeWire) || probeWire._peEnabled !== 0) return fail('the second constructor argument no longer sets _peEnabled')
    if (probeWire._encryptor) return fail('a Wire created with PE level 0 still has an encryptor')
  } finally {
    probeWire.destroy()
  }
  return true
}
