import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { defineCreate } from './commands/create.js'
import { defineDemo } from './commands/demo.js'
import { defineDownload } from './commands/download.js'
import { defineDownloadMeta } from './commands/downloadmeta.js'
import { defineInfo } from './commands/info.js'
import { defineSeed } from './commands/seed.js'
import type { CliContext } from './context.js'
import { debug, type CliIo } from './output.js'
import { ignoreTerminationSignals } from './runtime.js'
import { packageVersion, webtorrentVersion } from './version.js'

/**
 * Exit codes: 0 success (and a seed or --keep-seeding stopped by Ctrl-C), 1 failure (including a download
 * that no reachable peer can serve under the encryption policy), 2 bad usage (bad flag, missing file,
 * invalid torrent id), 130 a download interrupted (Ctrl-C, SIGTERM, SIGHUP) before it was done.
 */
export const EXIT_USAGE = 2

const EXAMPLES = `
Examples:
  webtorrent-mse "magnet:?xt=urn:btih:..."                  download (the default command) to the current directory
  webtorrent-mse download "magnet:..." --vlc                stream to VLC through the HTTP server
  webtorrent-mse download file.torrent --select 0 -o ~/Downloads
  webtorrent-mse download file.torrent --encryption required --peer 192.0.2.7:51413
  webtorrent-mse seed ./folder --torrent-port 51413 --encryption required
  webtorrent-mse seed folder.torrent -o ./data               seed the data of an existing torrent
  webtorrent-mse create ./folder -o folder.torrent --announce udp://tracker.example:6969/announce
  webtorrent-mse info folder.torrent
  webtorrent-mse demo --encryption tolerated --seeder-encryption required

Encryption (--encryption; MSE, BitTorrent Message Stream Encryption, on TCP and uTP):
  required   RC4 only, both ways; plaintext peers are refused
  preferred  dial with MSE, select RC4; accept plaintext; retry plaintext if a peer hangs up (default)
  tolerated  dial plaintext, select plaintext after MSE; retry MSE if a peer hangs up
  disabled   plaintext only; MSE handshakes are refused

Exit codes: 0 success, 1 failure (also: no --peer usable under the encryption policy), 2 bad usage,
130 download interrupted (Ctrl-C) before it was done.`

function versionLine (ctx: CliContext): string {
  return `${ctx.version} (webtorrent ${webtorrentVersion() ?? '?'})`
}

/** The commander program (exported for the parity test, which compares it with webtorrent-cli's). */
export function buildProgram (ctx: CliContext): Command {
  const program = new Command('webtorrent-mse')
  program
    .description('webtorrent with BitTorrent Message Stream Encryption (MSE): download, seed, create, inspect')
    .version(versionLine(ctx), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut: text => ctx.io.stdout.write(text),
      writeErr: text => ctx.io.stderr.write(text),
      outputError: (text, write) => write(`webtorrent-mse: ${text}`)
    })
    .showHelpAfterError('(run webtorrent-mse --help for usage)')
    .addHelpText('after', EXAMPLES)
    .helpCommand('help [command]', 'show help')
  defineDownload(program, ctx)
  defineDownloadMeta(program, ctx)
  defineSeed(program, ctx)
  defineCreate(program, ctx)
  defineInfo(program, ctx)
  defineDemo(program, ctx)
  program
    .command('version')
    .description('print the version')
    .action(() => { ctx.io.stdout.write(`${versionLine(ctx)}\n`) })
  return program
}

/**
 * Runs the CLI on `argv` (the arguments after the program name) and resolves with the exit code.
 * Long-running commands (seed, download --keep-seeding) resolve after SIGINT/SIGTERM.
 */
export async function main (argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let exitCode = 0
  const ctx: CliContext = { io, version: packageVersion(), setExitCode: code => { exitCode = code } }
  const program = buildProgram(ctx)
  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0; parse errors were already printed.
      debug('commander: %s (%d)', error.code, error.exitCode)
      return error.exitCode === 0 ? 0 : EXIT_USAGE
    }
    io.stderr.write(`webtorrent-mse: ${(error as Error)?.stack ?? String(error)}\n`)
    return 1
  }
  return exitCode
}

/** Runs `main` on process.argv and exits the process with its code (after stdout and stderr drain). */
export async function runCli (argv: string[] = process.argv.slice(2)): Promise<never> {
  // A bug anywhere (ours, webtorrent's): one clear line, the cursor back if a progress bar hid it, exit 1.
  const crash = (error: unknown): void => {
    if (process.stdout.isTTY) process.stdout.write('\x1b[?25h\n')
    process.stderr.write(`webtorrent-mse: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`)
    process.exit(1)
  }
  process.on('uncaughtException', crash)
  process.on('unhandledRejection', crash)
  // The reader went away (`webtorrent-mse ... | head`, a player reading --stdout quit): nothing more can be
  // shown, so stop quietly, as a program killed by SIGPIPE would, instead of a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    crash(error)
  })
  const code = await main(argv)
  ignoreTerminationSignals()
  await Promise.all([process.stdout, process.stderr].map(stream => new Promise<void>(resolve => {
    if (!stream.writableNeedDrain) resolve()
    else stream.once('drain', () => resolve())
  })))
  process.exit(code)
}

function invokedDirectly (): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href
  } catch {
    return false
  }
}

if (invokedDirectly()) void runCli()
