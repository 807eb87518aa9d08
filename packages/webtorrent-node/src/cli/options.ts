import { isIP } from 'node:net'
import { Command, InvalidArgumentError, Option } from 'commander'
import type { EncryptionPolicy, WebTorrentOptions } from '../index.js'

import { ENCRYPTION_POLICIES } from 'mse-core'

/** The policies, in the order --help lists them (mse-core's list). */
export const ENCRYPTION_MODES = ENCRYPTION_POLICIES

export interface OutputOptions {
  json?: boolean
  quiet?: boolean
}

/** The networking flags `download` and `seed` share (commander's camelCase names). */
export interface NetworkOptions extends OutputOptions {
  port?: number
  encryption: EncryptionPolicy
  peer: string[]
  announce: string[]
  dht: boolean
  tracker: boolean
  lsd: boolean
  nat: boolean
  utp: boolean
}

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i

/** `ip:port`, `[ipv6]:port` or `host:port`, port 1-65535; returns it unchanged (webtorrent's own form). */
export function parsePeerAddress (value: string): string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim())
  const hint = 'expected ip:port, e.g. 127.0.0.1:6881 or [::1]:6881'
  if (!match) throw new InvalidArgumentError(hint + '.')
  const [, v6, host, portText] = match
  const port = Number(portText)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`port ${portText} is out of range (1-65535); ${hint}.`)
  if (v6 !== undefined && isIP(v6) !== 6) throw new InvalidArgumentError(`${v6} is not an IPv6 address; ${hint}.`)
  if (host !== undefined && isIP(host) === 0 && !HOSTNAME.test(host)) throw new InvalidArgumentError(`${host} is not an IP address or host name; ${hint}.`)
  return v6 !== undefined ? `[${v6}]:${port}` : `${host}:${port}`
}

/** A TCP port, 0 (any free port) to 65535. */
export function parsePort (value: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port > 65535) {
    throw new InvalidArgumentError('expected a port number from 0 (any free port) to 65535.')
  }
  return port
}

/** A tracker URL: udp, http(s) or ws(s). */
export function parseTrackerUrl (value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidArgumentError('expected a tracker URL such as udp://tracker.example:6969/announce.')
  }
  if (!['udp:', 'http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new InvalidArgumentError(`unsupported tracker protocol ${url.protocol} (udp, http, https, ws or wss).`)
  }
  return value
}

/** A positive number, optionally bounded. */
export function positiveNumber (what: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) {
      throw new InvalidArgumentError(`expected ${what} greater than 0${max < Number.MAX_SAFE_INTEGER ? ` and at most ${max}` : ''}.`)
    }
    return n
  }
}

export function repeatable<T> (parse: (value: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)]
}

export function encryptionOption (flags = '--encryption <mode>', description = 'MSE policy for peer connections', defaultMode: EncryptionPolicy = 'preferred'): Option {
  return new Option(flags, description).choices(ENCRYPTION_MODES).default(defaultMode)
}

export function addOutputOptions (command: Command): Command {
  return command
    .option('-q, --quiet', 'print only errors and the final result line')
    .option('--json', 'print one JSON object per event line on stdout instead of human output')
}

export function addNetworkOptions (command: Command): Command {
  return command
    .option('-p, --port <port>', 'torrent port to listen on (TCP and uTP; default: any free port)', parsePort)
    .addOption(encryptionOption())
    .option('--peer <ip:port>', 'connect to this peer directly (repeatable)', repeatable(parsePeerAddress))
    .option('-a, --announce <url>', 'also announce to this tracker (repeatable)', repeatable(parseTrackerUrl))
    .option('--no-dht', 'do not use the DHT')
    .option('--no-tracker', 'do not announce to trackers')
    .option('--no-lsd', 'do not use local service discovery')
    .option('--no-nat', 'do not map the port with UPnP or NAT-PMP')
    .option('--no-utp', 'use TCP only, no uTP')
}

/** Fills in the repeatable flags commander leaves undefined when they are not given. */
export function withListDefaults<T extends { peer?: string[], announce?: string[] }> (options: T): T & { peer: string[], announce: string[] } {
  return Object.assign(options, { peer: options.peer ?? [], announce: options.announce ?? [] })
}

/** webtorrent-node client options for the networking flags. */
export function clientOptions (options: NetworkOptions): WebTorrentOptions {
  const result: WebTorrentOptions = { encryption: options.encryption }
  if (options.port !== undefined) result.torrentPort = options.port
  if (!options.dht) result.dht = false
  if (!options.tracker) result.tracker = false
  if (!options.lsd) result.lsd = false
  if (!options.nat) {
    result.natUpnp = false
    result.natPmp = false
  }
  if (!options.utp) result.utp = false
  return result
}

export { LOOPBACK_ONLY } from '../client.js'

