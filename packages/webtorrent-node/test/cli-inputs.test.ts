/**
 * Torrent ids and paths a user may get wrong, and the small things a user reads: each case is one clear
 * line and an exit code, never a stack trace or a hang. Loopback only; every child killed by PID.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { displayAddress } from '../src/cli/peers.js'
import { CliProcess, killAllChildren, runCli, QUIET_FLAGS } from './cli-helpers.js'

const NO_STACK = /\n\s+at /

describe('webtorrent-mse: torrent ids, paths and what the user reads', function () {
  this.timeout(90_000)
  let tmp: string
  let server: http.Server | undefined

  before(async function () {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-inputs-'))
  })

  afterEach(async function () {
    await killAllChildren()
    if (server) await new Promise(resolve => server!.close(resolve))
    server = undefined
  })

  after(async function () {
    await killAllChildren()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  /** A loopback HTTP server answering every request with `status` and `body`. */
  async function serve (status: number, body: string | Uint8Array): Promise<string> {
    server = http.createServer((_req, res) => {
      res.writeHead(status, { 'content-type': status === 200 ? 'application/x-bittorrent' : 'text/html' })
      res.end(body)
    })
    await new Promise<void>(resolve => server!.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.torrent`
  }

  async function createTorrent (name: string, bytes: number): Promise<{ file: string, torrent: string, data: Buffer, infoHash: string }> {
    const dir = path.join(tmp, `${name}-src`)
    await mkdir(dir, { recursive: true })
    const file = path.join(dir, name)
    const data = randomBytes(bytes)
    await writeFile(file, data)
    const torrent = path.join(tmp, `${name}.torrent`)
    const created = await runCli(['create', file, '-o', torrent, '--no-tracker', '--json'], 30_000)
    expect(created.exit.code, created.describe()).to.equal(0)
    return { file, torrent, data, infoHash: created.events()[0]!.infoHash }
  }

  it('a .torrent URL answering 404: one line with the HTTP status, exit 1', async function () {
    const url = await serve(404, '<html><body>Not Found</body></html>')
    const cli = await runCli(['download', url, ...QUIET_FLAGS, '-o', path.join(tmp, 'from-404')], 30_000)
    expect(cli.exit.code, cli.describe()).to.equal(1)
    expect(cli.stderr).to.equal(`webtorrent-mse: cannot fetch ${url}: HTTP 404 Not Found\n`)
  })

  it('a URL answering 200 with something else than a .torrent: one line, exit 2', async function () {
    const url = await serve(200, '<html>not a torrent</html>')
    const cli = await runCli(['download', url, ...QUIET_FLAGS, '--json'], 30_000)
    expect(cli.exit.code, cli.describe()).to.equal(2)
    expect(cli.stderr).to.equal(`webtorrent-mse: not a valid .torrent file: ${url} did not answer with a .torrent file\n`)
    expect(cli.events()).to.deep.equal([{ event: 'error', code: 'invalid-torrent-file', message: cli.stderr.slice('webtorrent-mse: '.length).trim() }])
  })

  it('a .torrent URL that works is fetched, and no "fetching metadata" is printed', async function () {
    const { torrent, infoHash } = await createTorrent('by-url.bin', 40_000)
    const url = await serve(200, await readFile(torrent))
    const cli = new CliProcess(['download', url, ...QUIET_FLAGS, '-o', path.join(tmp, 'by-url')])
    await cli.waitFor('the torrent to be ready', () => /^downloading by-url\.bin/m.test(cli.stdout) ? true : undefined, 30_000)
    expect(cli.stdout).to.include(`info hash ${infoHash}`)
    expect(cli.stdout).to.not.include('fetching metadata')
  })

  const unusable = [
    { what: 'a path through a file', out: (file: string) => path.join(file, 'sub'), reason: /a part of the path is a file, not a folder|is a file, not a folder/ },
    { what: 'an existing file', out: (file: string) => file, reason: /it exists and is not a folder/ },
    { what: 'a folder under /proc', out: () => '/proc/webtorrent-mse-test/out', reason: /the folder cannot be created there|permission denied|read-only/ }
  ]
  for (const u of unusable) {
    it(`-o into ${u.what}: one line, exit 1, no hang`, async function () {
      const { torrent, file } = await createTorrent(`unusable-${unusable.indexOf(u)}.bin`, 20_000)
      const out = u.out(file)
      const cli = await runCli(['download', torrent, ...QUIET_FLAGS, '-o', out], 20_000)
      expect(cli.exit.code, cli.describe()).to.equal(1)
      const lines = cli.stderr.trim().split('\n')
      expect(lines, cli.describe()).to.have.length(1)
      expect(lines[0]).to.match(new RegExp(`^webtorrent-mse: cannot use ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} as the download directory: `))
      expect(lines[0]).to.match(u.reason)
    })
  }

  it('info on an upper-case info hash builds a magnet with one xt', async function () {
    const hash = '0123456789ABCDEF0123456789ABCDEF01234567'
    const cli = await runCli(['info', hash, '--json'], 20_000)
    expect(cli.exit.code, cli.describe()).to.equal(0)
    const [info] = cli.events()
    expect(info).to.include({ infoHash: hash.toLowerCase(), magnet: `magnet:?xt=urn:btih:${hash.toLowerCase()}` })
    expect(info!.magnet.match(/xt=/g)).to.have.length(1)
  })

  it('seed file.torrent seeds the torrent\'s data (from -o), not the .torrent file', async function () {
    const { torrent, file, data, infoHash } = await createTorrent('seed-me.bin', 200_000)
    const seeder = new CliProcess(['seed', torrent, '-o', path.dirname(file), ...QUIET_FLAGS, '--json'])
    const seeding = await seeder.waitForEvent('seeding', 30_000)
    expect(seeding.infoHash).to.equal(infoHash)
    const metadata = seeder.events().find(e => e.event === 'metadata')
    expect(metadata).to.include({ name: 'seed-me.bin', alreadyOnDisk: data.length })
    const port = seeder.events().find(e => e.event === 'listening')!.port

    const outDir = path.join(tmp, 'seeded-from-torrent')
    const downloader = await runCli(['download', torrent, '--peer', `127.0.0.1:${port}`, ...QUIET_FLAGS, '-o', outDir, '--json'], 60_000)
    expect(downloader.exit.code, downloader.describe()).to.equal(0)
    expect((await readFile(path.join(outDir, 'seed-me.bin'))).equals(data)).to.equal(true)
  })

  it('a resumed download reports what it received, and what was already on disk', async function () {
    const { torrent, file, data } = await createTorrent('resume.bin', 300_000)
    const again = await runCli(['download', torrent, ...QUIET_FLAGS, '-o', path.dirname(file), '--json'], 30_000)
    expect(again.exit.code, again.describe()).to.equal(0)
    const done = again.events().find(e => e.event === 'done')
    expect(done).to.include({ received: 0, alreadyOnDisk: data.length, averageSpeed: 0 })
    const human = await runCli(['download', torrent, ...QUIET_FLAGS, '-o', path.dirname(file)], 30_000)
    expect(human.stdout).to.match(/^ {2}downloaded\s+0 B in .* \(0 B\/s average\); 293 KiB was already on disk$/m)
    expect(human.stdout).to.not.match(NO_STACK)
  })

  it('a tracker that cannot be reached is shown as a warning (line and JSON event)', async function () {
    // A loopback port with nothing listening: bind, note the port, close.
    const probe = http.createServer()
    await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise(resolve => probe.close(resolve))
    const args = ['download', '0123456789abcdef0123456789abcdef01234567', '-a', `http://127.0.0.1:${port}/announce`, '--no-dht', '--no-lsd', '--no-nat', '-p', '0', '-o', path.join(tmp, 'tracker')]
    const json = new CliProcess([...args, '--json'])
    const warning = await json.waitForEvent('warning', 30_000, e => /tracker/i.test(e.message))
    expect(warning.message).to.equal(`HTTP tracker request failed: connect ECONNREFUSED 127.0.0.1:${port}`)
    const human = new CliProcess(args)
    await human.waitFor('the warning line', () => human.stderr.includes(`webtorrent-mse: warning: HTTP tracker request failed: connect ECONNREFUSED 127.0.0.1:${port}\n`) ? true : undefined, 30_000)
  })

  it('peer addresses: IPv6 in brackets, IPv4-mapped as IPv4', function () {
    expect(displayAddress('::1:6881')).to.equal('[::1]:6881')
    expect(displayAddress('2001:DB8::7:51413')).to.equal('[2001:db8::7]:51413')
    expect(displayAddress('[::1]:6881')).to.equal('[::1]:6881')
    expect(displayAddress('::ffff:127.0.0.1:5000')).to.equal('127.0.0.1:5000')
    expect(displayAddress('127.0.0.1:5000')).to.equal('127.0.0.1:5000')
  })
})
