/**
 * Streaming, for real, over 127.0.0.1: webtorrent's HTTP server answers range requests byte-exact, --stdout
 * pipes the file byte-exact, a player flag starts the player (a stand-in on PATH that records its
 * arguments and fetches the URL), and --select downloads only the chosen file. Every child is killed by
 * PID; every wait is bounded.
 */
import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { CliProcess, MAIN_TS, killAllChildren, runCli, QUIET_FLAGS } from './cli-helpers.js'

const TSX = import.meta.resolve('tsx')
/** Piece-aligned sizes (create-torrent picks 16 KiB pieces here), so no piece spans two files. */
const SIZES = { 'a.bin': 4 * 16384, 'b.bin': 6 * 16384, 'c.bin': 12 * 16384 }

describe('webtorrent-mse streaming (HTTP server, --stdout, players, --select)', function () {
  this.timeout(120_000)
  let tmp: string
  let seeder: CliProcess
  let magnet: string
  let infoHash: string
  let peer: string
  const files: Record<string, Buffer> = {}

  before(async function () {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-stream-'))
    const folder = path.join(tmp, 'album')
    await mkdir(folder)
    for (const [name, size] of Object.entries(SIZES)) {
      files[name] = randomBytes(size)
      await writeFile(path.join(folder, name), files[name]!)
    }
    seeder = new CliProcess(['seed', folder, '--json', ...QUIET_FLAGS])
    const seeding = await seeder.waitForEvent('seeding', 30_000)
    magnet = seeding.magnet
    infoHash = seeding.infoHash
    peer = `127.0.0.1:${seeding.port}`
  })

  afterEach(async function () {
    // The seeder lives for the whole suite.
    for (const cli of running) cli.kill('SIGKILL')
    running.length = 0
  })

  after(async function () {
    await killAllChildren()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  const running: CliProcess[] = []
  function cli (args: string[], env?: NodeJS.ProcessEnv): CliProcess {
    const process = new CliProcess(args, { env })
    running.push(process)
    return process
  }

  it('the HTTP server (-p) serves a file byte-exact, with range requests', async function () {
    const downloader = cli(['download', magnet, '--peer', peer, ...QUIET_FLAGS, '-o', path.join(tmp, 'http'), '--keep-seeding', '--json'])
    const server = await downloader.waitForEvent('server', 30_000)
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/webtorrent\/$/)
    expect(server.port).to.be.above(0)
    await downloader.waitForEvent('metadata', 30_000)
    const url = `${server.url as string}${infoHash}/${encodeURI('album/b.bin')}`
    const whole = await fetch(url)
    expect(whole.status).to.equal(200)
    expect(whole.headers.get('accept-ranges')).to.equal('bytes')
    expect(Buffer.from(await whole.arrayBuffer()).equals(files['b.bin']!)).to.equal(true)
    for (const [start, end] of [[0, 0], [1000, 4999], [16380, 16390], [SIZES['b.bin'] - 7, SIZES['b.bin'] - 1]] as const) {
      const part = await fetch(url, { headers: { range: `bytes=${start}-${end}` } })
      expect(part.status, `bytes=${start}-${end}`).to.equal(206)
      expect(part.headers.get('content-range')).to.equal(`bytes ${start}-${end}/${SIZES['b.bin']}`)
      expect(Buffer.from(await part.arrayBuffer()).equals(files['b.bin']!.subarray(start, end + 1)), `bytes=${start}-${end}`).to.equal(true)
    }
    const suffix = await fetch(url, { headers: { range: 'bytes=-100' } })
    expect(suffix.status).to.equal(206)
    expect(Buffer.from(await suffix.arrayBuffer()).equals(files['b.bin']!.subarray(-100))).to.equal(true)
  })

  it('--stdout pipes the selected file byte-exact (and nothing else on stdout), exit 0', async function () {
    const child = spawn(process.execPath, ['--import', TSX, '--conditions=source', MAIN_TS, 'download', magnet, '--peer', peer, ...QUIET_FLAGS, '--stdout', '-s', '1'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    const code = await new Promise<number | null>(resolve => child.once('close', resolve))
    clearTimeout(timer)
    expect(code, stderr).to.equal(0)
    expect(Buffer.concat(chunks).equals(files['b.bin']!), `stdout: ${Buffer.concat(chunks).length} bytes`).to.equal(true)
  })

  it('--mpv starts the player with the server URL (a stand-in on PATH), and exits when it does', async function () {
    const bin = path.join(tmp, 'bin')
    await mkdir(bin, { recursive: true })
    const record = path.join(tmp, 'mpv-args.json')
    const fetched = path.join(tmp, 'mpv-fetched.bin')
    // The stand-in: records its arguments, fetches the last one (the URL) like a player, exits 0.
    await writeFile(path.join(bin, 'mpv'), `#!${process.execPath}
const fs = require('node:fs')
const args = process.argv.slice(2)
fs.writeFileSync(${JSON.stringify(record)}, JSON.stringify(args))
fetch(args[args.length - 1]).then(r => r.arrayBuffer()).then(b => { fs.writeFileSync(${JSON.stringify(fetched)}, Buffer.from(b)); process.exit(0) }, e => { console.error(e); process.exit(3) })
`)
    await chmod(path.join(bin, 'mpv'), 0o755)
    const downloader = cli(['download', magnet, '--peer', peer, ...QUIET_FLAGS, '--mpv', '--player-args', '--volume=50 --fs', '--json'], { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` })
    expect((await downloader.waitForExit(60_000)).code, downloader.describe()).to.equal(0)
    const streaming = downloader.events().find(e => e.event === 'streaming')
    // No --select: the largest file, as webtorrent-cli picks it.
    expect(streaming).to.include({ player: 'mpv', file: 'album/c.bin', index: 2 })
    expect(streaming!.url).to.equal(`${downloader.events().find(e => e.event === 'server')!.url as string}${infoHash}/album/c.bin`)
    const args = JSON.parse(await readFile(record, 'utf8'))
    expect(args).to.deep.equal(['--really-quiet', '--loop=no', '--ontop', '--volume=50', '--fs', streaming!.url])
    expect((await readFile(fetched)).equals(files['c.bin']!)).to.equal(true)
    expect(downloader.events().find(e => e.event === 'player-exit')).to.include({ player: 'mpv', code: 0 })
  })

  it('a player that is not installed: one line, exit 1', async function () {
    const result = await runCli(['download', magnet, '--peer', peer, ...QUIET_FLAGS, '--smplayer'], 60_000, { env: { PATH: path.dirname(process.execPath) } })
    expect(result.exit.code, result.describe()).to.equal(1)
    expect(result.stderr.trim().split('\n').at(-1)).to.equal('webtorrent-mse: --smplayer: the player "smplayer" is not installed (or not on PATH)')
  })

  it('-s alone lists the files with their indexes and exits 0', async function () {
    const result = await runCli(['download', magnet, '--peer', peer, ...QUIET_FLAGS, '-s', '-o', path.join(tmp, 'list')], 60_000)
    expect(result.exit.code, result.describe()).to.equal(0)
    expect(result.stdout).to.match(/^ {2}0 {3}album\/a\.bin \(64\.0 KiB\)$/m)
    expect(result.stdout).to.match(/^ {2}2 {3}album\/c\.bin \(192 KiB\)$/m)
  })

  it('--select downloads only the chosen file', async function () {
    const out = path.join(tmp, 'select')
    const result = await runCli(['download', magnet, '--peer', peer, ...QUIET_FLAGS, '--select', '1', '-o', out, '--json'], 60_000)
    expect(result.exit.code, result.describe()).to.equal(0)
    expect(await readdir(path.join(out, 'album'))).to.deep.equal(['b.bin'])
    expect((await readFile(path.join(out, 'album', 'b.bin'))).equals(files['b.bin']!)).to.equal(true)
    expect(result.events().find(e => e.event === 'done')!.received).to.equal(SIZES['b.bin'])
  })
})
