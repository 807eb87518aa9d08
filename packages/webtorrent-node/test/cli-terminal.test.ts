/**
 * Ctrl-C in a real terminal: the CLI runs through its bin launcher (which re-executes node with OpenSSL's
 * legacy provider, so there are two processes in the terminal's foreground group) inside a tmux pane, and
 * tmux types Ctrl-C. Both processes get SIGINT from the terminal; the summary, the exit code (130 for an
 * interrupted download) and the --json `interrupted` event must survive that, and the live progress lines
 * must not be left with the terminal's ^C echo over them. tmux comes from scripts/install-peers.
 */
import { expect } from 'chai'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { BIN, CliProcess, killAllChildren, QUIET_FLAGS } from './cli-helpers.js'
import { until } from 'test-support'

const exec = promisify(execFile)
/** One tmux server per test (its own socket), killed after it. */
let socket = ''
async function tmux (...args: string[]): Promise<string> {
  const { stdout } = await exec('tmux', ['-L', socket, ...args], { timeout: 10_000 })
  return stdout
}

function quote (arg: string): string {
  return `'${arg.replace(/'/g, "'\\''")}'`
}

describe('webtorrent-mse in a real terminal (tmux)', function () {
  this.timeout(120_000)
  let tmp: string
  let seeder: CliProcess
  let magnet: string
  let port: number

  before(async function () {
    try {
      await exec('tmux', ['-V'])
    } catch {
      if (process.env.CI) throw new Error('tmux is missing: scripts/install-peers installs it')
      this.skip()
    }
    tmp = await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-tty-'))
    const source = path.join(tmp, 'slow.bin')
    await writeFile(source, randomBytes(8 * 1024 * 1024))
    seeder = new CliProcess(['seed', source, '--json', '--encryption', 'required', ...QUIET_FLAGS])
    const seeding = await seeder.waitForEvent('seeding', 30_000)
    magnet = seeding.magnet
    port = seeding.port
  })

  afterEach(async function () {
    await exec('tmux', ['-L', socket, 'kill-server']).catch(() => {})
  })

  after(async function () {
    await killAllChildren()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  /**
   * Starts the CLI in a 120x30 tmux pane under bash, which records its exit code in a file; a download
   * limited to 200 kB/s, so Ctrl-C comes mid-download.
   */
  async function startInPane (name: string, extra: string[], redirect = ''): Promise<{ exitFile: string }> {
    const exitFile = path.join(tmp, `${name}.exit`)
    const args = ['download', magnet, '--peer', `127.0.0.1:${port}`, ...QUIET_FLAGS, '--encryption', 'required', '-o', path.join(tmp, name), '-d', '200', ...extra]
    // Bounded even if this test process dies before its afterEach: timeout ends the CLI after 180 s
    // (--foreground keeps it in the terminal's process group, so Ctrl-C reaches it), the pane after 60 s more.
    const command = `timeout --foreground 180 ${[process.execPath, BIN, ...args].map(quote).join(' ')}${redirect}; echo $? > ${quote(exitFile)}; sleep 60`
    const env = { ...process.env }
    delete env.DEBUG
    delete env.WEBTORRENT_MSE_NO_REEXEC
    delete env.WEBTORRENT_MSE_JS_RC4
    socket = `webtorrent-mse-test-${process.pid}-${name}`
    await exec('tmux', ['-L', socket, 'new-session', '-d', '-s', name, '-x', '120', '-y', '30', 'bash', '-c', command], { env, timeout: 10_000 })
    return { exitFile }
  }

  async function exitCode (exitFile: string): Promise<number> {
    const exit = await until(async () => {
      const text = await readFile(exitFile, 'utf8').catch(() => '')
      return text.trim() === '' ? undefined : { code: Number(text.trim()) }
    }, 30_000, 'the exit code', 200)
    return exit.code
  }

  it('Ctrl-C mid-download: the summary, an intact progress display, exit code 130', async function () {
    const { exitFile } = await startInPane('human', [])
    await until(async () => (await tmux('capture-pane', '-p', '-t', 'human')).includes('ETA'), 60_000, 'the progress bar', 200)
    await tmux('send-keys', '-t', 'human', 'C-c')
    expect(await exitCode(exitFile)).to.equal(130)
    const screen = (await tmux('capture-pane', '-p', '-t', 'human', '-S', '-')).split('\n')
    const text = screen.join('\n')
    // The summary, then the result line.
    expect(text).to.match(/^ {2}downloaded\s+\S+ \S+ in .* average\)/m)
    // One encrypted connection: RC4, or AES-128-CTR (this project's extension, between two webtorrent-mse).
    expect(text).to.match(/^ {2}MSE connected\s+(rc4 1, |rc4 0, aes-128-ctr 1, )plaintext after MSE 0, plaintext 0$/m)
    expect(text).to.match(/^interrupted \(SIGINT\) at \d+\.\d%: slow\.bin$/m)
    // The last frame of the live display is whole: the peers line starts the line, no ^C over it.
    expect(text).to.match(/^peers 1: (rc4 1|rc4 0 · aes 1) · plaintext 0 · fell back 0\s*$/m)
    expect(screen.filter(line => line.includes('^C') && /peers|ETA|░/.test(line))).to.deep.equal([])
  })

  it('Ctrl-C with --json: the interrupted event is the last line, exit code 130', async function () {
    const eventsFile = path.join(tmp, 'events.jsonl')
    const { exitFile } = await startInPane('json', ['--json'], ` > ${quote(eventsFile)}`)
    await until(async () => (await readFile(eventsFile, 'utf8').catch(() => '')).includes('"event":"progress"'), 60_000, 'a progress event', 200)
    await tmux('send-keys', '-t', 'json', 'C-c')
    expect(await exitCode(exitFile)).to.equal(130)
    const events = (await readFile(eventsFile, 'utf8')).trim().split('\n').map(line => JSON.parse(line))
    const last = events.at(-1)
    expect(last).to.include({ event: 'interrupted', signal: 'SIGINT' })
    expect(last.received).to.be.above(0)
    expect(last.uploaded).to.equal(0)
    expect(last.mseStats.connected.rc4 + (last.mseStats.connected['aes-128-ctr'] ?? 0)).to.equal(1)
  })
})
