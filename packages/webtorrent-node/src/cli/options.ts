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

/** The networking flags `download`, `downloadmeta` and `seed` share (commander's camelCase names). */
export interface NetworkOptions extends OutputOptions {
  torrentPort?: number
  dhtPort?: number
  encryption: EncryptionPolicy
  peer: string[]
  announce: string[]
  blocklist?: string
  /** kB/s; -1 (the default) is unlimited, as in webtorrent-cli. */
  downloadLimit: number
  uploadLimit: number
  dht: boolean
  tracker: boolean
  lsd: boolean
  nat: boolean
  utp: boolean
  /** False with --no-aes: RC4 even with other webtorrent-mse peers. */
  aes: boolean
  verbose?: boolean
}

/** The players `download` can stream to (webtorrent-cli's streaming options), in its order. */
export const PLAYERS = ['airplay', 'chromecast', 'dlna', 'mplayer', 'mpv', 'omx', 'vlc', 'iina', 'smplayer', 'xbmc', 'stdout'] as const
export type PlayerName = typeof PLAYERS[number]

/** What `download` (and `seed` of a torrent id) takes beyond the networking flags. */
export interface TransferOptions extends NetworkOptions {
  out?: string
  /** A file index, or true: list the files and exit. */
  select?: number | true
  interactiveSelect?: boolean
  subtitles?: string
  /** The HTTP server port (webtorrent-cli's -p), default 8000, a free one when that is taken. */
  port: number
  keepSeeding?: boolean
  /** False with --no-quit: keep running when the player exits. */
  quit: boolean
  onDone?: string
  onExit?: string
  playlist?: boolean
  playerArgs?: string
  pip?: boolean
  notOnTop?: boolean
  airplay?: boolean
  chromecast?: boolean | string
  dlna?: boolean
  mplayer?: boolean
  mpv?: boolean
  omx?: boolean | string
  vlc?: boolean
  iina?: boolean
  smplayer?: boolean
  xbmc?: boolean
  stdout?: boolean
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

/** kB/s, -1 for unlimited (webtorrent-cli's meaning). */
export function parseRateLimit (value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || (n <= 0 && n !== -1)) throw new InvalidArgumentError('expected a speed in kB/s greater than 0, or -1 for unlimited.')
  return n
}

/** A file index for --select (0 is the first file). */
export function parseFileIndex (value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a file index (0, 1, ...); run with -s alone to list the files.')
  return Number(value)
}

export function addNetworkOptions (command: Command): Command {
  return command
    .option('--torrent-port <port>', 'torrent port to listen on, TCP and uTP (default: any free port)', parsePort)
    .option('--dht-port <port>', 'DHT port (default: any free port)', parsePort)
    .addOption(encryptionOption())
    .option('--peer <ip:port>', 'connect to this peer directly (repeatable)', repeatable(parsePeerAddress))
    .option('-a, --announce <url>', 'also announce to this tracker (repeatable)', repeatable(parseTrackerUrl))
    .option('-b, --blocklist <file|url>', 'load a blocklist (a file or URL of IP ranges)')
    .option('-d, --download-limit <kB/s>', 'maximum download speed in kB/s (-1: unlimited)', parseRateLimit, -1)
    .option('-u, --upload-limit <kB/s>', 'maximum upload speed in kB/s (-1: unlimited)', parseRateLimit, -1)
    .option('--no-dht', 'do not use the DHT')
    .option('--no-tracker', 'do not announce to trackers')
    .option('--no-lsd', 'do not use local service discovery')
    .option('--no-nat', 'do not map the port with UPnP or NAT-PMP')
    .option('--no-utp', 'use TCP only, no uTP')
    .option('--no-aes', 'encrypt with RC4 even with other webtorrent-mse peers (not AES-128-CTR)')
    .option('--verbose', 'show each peer connection and its encryption, torrent warnings, and every failed handshake')
}

/** webtorrent-cli's options for downloading and streaming (download, and seed given a torrent id). */
export function addTransferOptions (command: Command): Command {
  command
    .option('-o, --out <dir>', 'download destination directory (default: the current directory; a temporary one when streaming)')
    .option('-s, --select [index]', 'download only the file with this index (alone: list the files and exit)', parseFileIndex)
    .option('-i, --interactive-select', 'choose the file to download from a list')
    .option('-t, --subtitles <file>', 'load a subtitles file into the player')
    .option('-p, --port <port>', 'HTTP server port (a free one when it is taken)', parsePort, 8000)
    .option('--keep-seeding', 'keep seeding after the download is done (until Ctrl+C)')
    .option('--no-quit', 'keep running when the player exits')
    .option('--on-done <command>', 'run this shell command when the download is done')
    .option('--on-exit <command>', 'run this shell command before exiting')
    .option('--playlist', 'open every file in a playlist (mpv, mplayer, vlc, smplayer)')
    .option('--player-args <args>', 'extra arguments for the player, e.g. "--video-on-top --repeat"')
    .option('--pip', 'enter picture-in-picture if the player supports it (IINA)')
    .option('--not-on-top', 'do not keep the player window on top')
  command
    .option('--airplay', 'stream to an Apple TV (AirPlay)')
    .option('--chromecast [name]', 'stream to Chromecasts (all, or those whose name contains this)')
    .option('--dlna', 'stream to DLNA renderers')
    .option('--mplayer', 'stream to MPlayer')
    .option('--mpv', 'stream to mpv')
    .option('--omx [jack]', 'stream to omxplayer (audio output, default hdmi)')
    .option('--vlc', 'stream to VLC')
    .option('--iina', 'stream to IINA')
    .option('--smplayer', 'stream to SMPlayer')
    .option('--xbmc', 'stream to XBMC/Kodi')
    .option('--stdout', 'write the selected file to standard output (implies --quiet)')
  return command
}

/** Fills in the repeatable flags commander leaves undefined when they are not given. */
export function withListDefaults<T extends { peer?: string[], announce?: string[] }> (options: T): T & { peer: string[], announce: string[] } {
  return Object.assign(options, { peer: options.peer ?? [], announce: options.announce ?? [] })
}

/** webtorrent-node client options for the networking flags. */
export function clientOptions (options: NetworkOptions): WebTorrentOptions {
  const result: WebTorrentOptions = { encryption: options.encryption }
  if (options.torrentPort !== undefined) result.torrentPort = options.torrentPort
  if (options.dhtPort !== undefined) result.dhtPort = options.dhtPort
  if (options.blocklist !== undefined) result.blocklist = options.blocklist
  if (options.downloadLimit > 0) result.downloadLimit = options.downloadLimit * 1024
  if (options.uploadLimit > 0) result.uploadLimit = options.uploadLimit * 1024
  if (!options.dht) result.dht = false
  if (!options.tracker) result.tracker = false
  if (!options.lsd) result.lsd = false
  if (!options.nat) {
    result.natUpnp = false
    result.natPmp = false
  }
  if (!options.utp) result.utp = false
  if (!options.aes) result.mseAes = false
  return result
}

export { LOOPBACK_ONLY } from '../client.js'
