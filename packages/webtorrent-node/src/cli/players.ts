import { spawn, type ChildProcess } from 'node:child_process'
import { CliError, UsageError } from './errors.js'
import { PLAYERS, type PlayerName, type TransferOptions } from './options.js'

/** Players run as local programs, with webtorrent-cli's arguments (the URL, or URLs, go last). */
const LOCAL_PLAYERS = {
  vlc: { command: 'vlc', args: ['--play-and-exit', '--quiet'], onTop: ['--video-on-top'], subtitles: (file: string) => [`--sub-file=${file}`] },
  mpv: { command: 'mpv', args: ['--really-quiet', '--loop=no'], onTop: ['--ontop'], subtitles: (file: string) => [`--sub-file=${file}`] },
  mplayer: { command: 'mplayer', args: ['-really-quiet', '-noidx', '-loop', '0'], onTop: ['-ontop'], subtitles: (file: string) => ['-sub', file] },
  smplayer: { command: 'smplayer', args: ['-close-at-end'], onTop: ['-ontop'], subtitles: (file: string) => ['-sub', file] },
  iina: { command: 'iina-cli', args: ['--keep-running'], onTop: [], subtitles: undefined },
  omx: { command: 'omxplayer', args: ['-r', '--timeout', '60', '--no-ghost-box', '--align', 'center', '-o'], onTop: [], subtitles: (file: string) => ['--subtitles', file] }
} as const

export type LocalPlayer = keyof typeof LOCAL_PLAYERS
/** Players that take a playlist of every file (webtorrent-cli's --playlist). */
const PLAYLIST_PLAYERS: readonly string[] = ['mpv', 'mplayer', 'vlc', 'smplayer']

/**
 * Devices reached over the network. webtorrent-cli 6.0.1 loads them from packages it does not depend on
 * (airplay-js, chromecasts, nodebmc; only dlnacasts is a dependency), none of them maintained; they are
 * not installed with this package either.
 */
const NETWORK_PLAYERS: Record<string, string> = {
  airplay: 'airplay-js',
  chromecast: 'chromecasts',
  dlna: 'dlnacasts',
  xbmc: 'nodebmc'
}

/** The one player the flags name, or undefined; two or more is a usage error. */
export function chosenPlayer (options: TransferOptions): PlayerName | undefined {
  const chosen = PLAYERS.filter(name => options[name] !== undefined && options[name] !== false)
  if (chosen.length > 1) throw new UsageError(`choose one player, not ${chosen.map(name => `--${name}`).join(' and ')}`)
  return chosen[0]
}

export function isNetworkPlayer (name: PlayerName | undefined): boolean {
  return name !== undefined && name in NETWORK_PLAYERS
}

/** The command line for a local player: its arguments, ours (on top, subtitles, pip), the user's, the URLs. */
export function playerCommand (name: LocalPlayer, urls: string[], options: TransferOptions): { command: string, args: string[] } {
  const player = LOCAL_PLAYERS[name]
  const args: string[] = [...player.args]
  if (name === 'omx') args.push(typeof options.omx === 'string' ? options.omx : 'hdmi')
  if (!options.notOnTop) args.push(...player.onTop)
  if (options.subtitles && player.subtitles) args.push(...player.subtitles(options.subtitles))
  if (options.pip && name === 'iina') args.push('--pip')
  if (options.playerArgs) args.push(...options.playerArgs.split(' ').filter(arg => arg !== ''))
  return { command: player.command, args: [...args, ...(options.playlist && PLAYLIST_PLAYERS.includes(name) ? urls : urls.slice(0, 1))] }
}

/** Network devices are not available (see NETWORK_PLAYERS): a one-line error before anything starts. */
export function checkPlayerAvailable (name: PlayerName | undefined): void {
  if (name === undefined || !(name in NETWORK_PLAYERS)) return
  throw new CliError(`--${name} is not available: it needs the ${NETWORK_PLAYERS[name]} package, which is unmaintained and not installed with webtorrent-mse; use a local player (--vlc, --mpv, ...) or open the HTTP server's URL on the device`, 'player-unavailable')
}

/** Starts a local player; `onExit` runs when it exits; a player that is not installed is a one-line error. */
export function startPlayer (name: PlayerName, urls: string[], options: TransferOptions, onExit: (code: number | null) => void, onError: (error: Error) => void): ChildProcess | undefined {
  checkPlayerAvailable(name)
  if (name === 'stdout') return undefined
  const { command, args } = playerCommand(name as LocalPlayer, urls, options)
  const child = spawn(command, args, { stdio: 'ignore' })
  child.once('error', (error: NodeJS.ErrnoException) => {
    onError(new CliError(error.code === 'ENOENT'
      ? `--${name}: the player "${command}" is not installed (or not on PATH)`
      : `--${name}: cannot start "${command}": ${error.message}`, 'player-failed'))
  })
  child.once('exit', code => onExit(code))
  return child
}
