/**
 * The webtorrent-mse command-line program, run as child processes over 127.0.0.1 only (DHT, trackers,
 * LSD and NAT mapping off). Every child is killed by PID in the after hooks; every wait is bounded.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { main } from '../src/cli/main.js'
import { CliProcess, PACKAGE_DIR, killAllChildren, runCli, QUIET_FLAGS } from './cli-helpers.js'

/** The payload ciphers between two webtorrent-mse processes (AES-128-CTR unless a drawn pad was too short). */
const ENCRYPTED = ['aes-128-ctr', 'rc4']

const VERSION: string = JSON.parse(await readFile(path.join(PACKAGE_DIR, 'package.json'), 'utf8')).version

function sink (): Writable & { text: string } {
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      stream.text += String(chunk)
      callback()
    }
  }) as Writable & { text: string }
  stream.text = ''
  return stream
}

describe('webtorrent-mse CLI', function () {
  let tmp: string

  before(async function () {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-cli-test-'))
  })

  afterEach(async function () {
    await killAllChildren()
  })

  after(async function () {
    await killAllChildren()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  describe('help, version and bad input', function () {
    this.timeout(30_000)

    it('--version prints the package version and exits 0', async function () {
      const cli = await runCli(['--version'], 20_000)
      expect(cli.exit.code).to.equal(0)
      expect(cli.stdout.trim()).to.match(new RegExp(`^${VERSION.replace(/\./g, '\\.')} \\(webtorrent \\d+\\.\\d+\\.\\d+\\)$`))
    })

    it('--help lists the commands and the encryption modes', async function () {
      const cli = await runCli(['--help'], 20_000)
      expect(cli.exit.code).to.equal(0)
      for (const word of ['download', 'seed', 'create', 'info', 'demo', 'required', 'preferred', 'tolerated', 'disabled']) {
        expect(cli.stdout).to.include(word)
      }
      const download = await runCli(['download', '--help'], 20_000)
      expect(download.exit.code).to.equal(0)
      for (const flag of ['--out', '--port', '--torrent-port', '--keep-seeding', '--quiet', '--json', '--peer', '--encryption', '--no-dht', '--no-tracker', '--no-lsd', '--no-nat', '--announce']) {
        expect(download.stdout).to.include(flag)
      }
    })

    it('the bin launcher runs from source (tsx) and from the build', async function () {
      const fromSource = await runCli(['--version'], 20_000, { viaBin: true, env: { WEBTORRENT_MSE_FROM_SOURCE: '1' } })
      expect(fromSource.exit.code, fromSource.describe()).to.equal(0)
      expect(fromSource.stdout).to.include(VERSION)
      const either = await runCli(['--version'], 20_000, { viaBin: true })
      expect(either.exit.code, either.describe()).to.equal(0)
      expect(either.stdout).to.include(VERSION)
    })

    const cases: Array<{ args: string[], message: RegExp }> = [
      { args: ['bogus'], message: /invalid torrent id "bogus"/ },
      { args: ['download', '0123456789abcdef0123456789abcdef01234567', '--encryption', 'bogus'], message: /--encryption.*'bogus' is invalid.*required, preferred, tolerated, disabled/ },
      { args: ['download', '0123456789abcdef0123456789abcdef01234567', '--peer', 'notaport'], message: /--peer.*'notaport' is invalid.*ip:port/ },
      { args: ['download', '0123456789abcdef0123456789abcdef01234567', '--peer', '127.0.0.1:70000'], message: /out of range/ },
      { args: ['download', 'not-a-torrent-id'], message: /invalid torrent id "not-a-torrent-id"/ },
      { args: ['download', 'magnet:?xt=urn:sha1:abc'], message: /invalid magnet URI/ },
      { args: ['download', 'missing.torrent'], message: /no such file: missing\.torrent/ },
      { args: ['seed', 'no/such/file.bin'], message: /no such file or directory: no\/such\/file\.bin/ },
      { args: ['create', 'no/such/file.bin'], message: /no such file or directory/ },
      { args: ['info', 'package.json'], message: /not a valid \.torrent file: package\.json/ },
      { args: ['download'], message: /missing torrent id/ },
      { args: ['download', 'magnet:?xt=urn:btih:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'], message: /^webtorrent-mse: invalid magnet URI: the info hash "z{40}" \(40 characters\) must be 40 hex characters or 32 base32 characters\n$/ },
      { args: ['download', 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef0123456'], message: /^webtorrent-mse: invalid magnet URI: the info hash "0123456789abcdef0123456789abcdef0123456" \(39 characters\)/ },
      { args: ['downloadmeta', 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef0123456'], message: /invalid magnet URI/ },
      { args: ['download', '0123456789abcdef0123456789abcdef01234567', '--vlc', '--mpv'], message: /choose one player, not --mpv and --vlc/ },
      { args: ['download', '0123456789abcdef0123456789abcdef01234567', '0123456789abcdef0123456789abcdef01234568', '--select', '1'], message: /--select cannot be used with several torrents/ },
      { args: ['demo', '--size', '0'], message: /--size.*'0' is invalid/ },
      { args: ['seed', 'package.json', '--torrent-port', 'x'], message: /--torrent-port.*'x' is invalid/ },
      { args: ['download', '0123456789abcdef0123456789abcdef01234567', '-p', 'x'], message: /--port.*'x' is invalid/ },
      { args: ['download', '0123456789abcdef0123456789abcdef01234567', '-d', '0'], message: /--download-limit.*'0' is invalid/ }
    ]
    for (const { args, message } of cases) {
      it(`exits non-zero with a clear message: ${args.join(' ')}`, async function () {
        const cli = await runCli(args, 20_000)
        expect(cli.exit.code, cli.describe()).to.equal(2)
        expect(cli.stderr, cli.describe()).to.match(message)
        expect(cli.stderr.split('\n')[0]).to.match(/^webtorrent-mse: /)
        expect(cli.stdout).to.equal('')
      })
    }

    for (const device of ['airplay', 'chromecast', 'dlna', 'xbmc']) {
      it(`--${device}: one line saying why it is not available, exit 1`, async function () {
        const cli = await runCli(['0123456789abcdef0123456789abcdef01234567', `--${device}`, ...QUIET_FLAGS], 20_000)
        expect(cli.exit.code, cli.describe()).to.equal(1)
        expect(cli.stderr).to.match(new RegExp(`^webtorrent-mse: --${device} is not available: it needs the [a-z-]+ package, which is unmaintained and not installed with webtorrent-mse; use a local player .*\n$`))
      })
    }

    it('a bad argument with --json still reports on stderr, and an error event on stdout', async function () {
      const cli = await runCli(['download', 'not-a-torrent-id', '--json'], 20_000)
      expect(cli.exit.code).to.equal(2)
      expect(cli.stderr).to.match(/invalid torrent id/)
      expect(cli.events()).to.deep.equal([{ event: 'error', code: 'invalid-torrent-id', message: cli.stderr.replace(/^webtorrent-mse: /, '').trim() }])
    })

    it('main(argv) returns the exit code in-process', async function () {
      const stdout = sink()
      const stderr = sink()
      expect(await main(['--version'], { stdout, stderr })).to.equal(0)
      expect(stdout.text).to.include(VERSION)
      expect(await main(['download', 'x', '--encryption', 'bogus'], { stdout, stderr })).to.equal(2)
      expect(stderr.text).to.include("argument 'bogus' is invalid")
    })
  })

  describe('create and info', function () {
    this.timeout(90_000)

    it('create writes a .torrent that info describes', async function () {
      const file = path.join(tmp, 'create-me.bin')
      await writeFile(file, randomBytes(300_000))
      const torrentFile = path.join(tmp, 'create-me.torrent')

      const created = await runCli(['create', file, '-o', torrentFile, '--json', '--no-tracker'], 20_000)
      expect(created.exit.code, created.describe()).to.equal(0)
      const [event] = created.events()
      expect(event).to.include({ event: 'created', path: torrentFile, name: 'create-me.bin', length: 300_000 })
      expect(event!.infoHash).to.match(/^[0-9a-f]{40}$/)
      expect(event!.announce).to.deep.equal([])

      const json = await runCli(['info', torrentFile, '--json'], 20_000)
      expect(json.exit.code, json.describe()).to.equal(0)
      const [info] = json.events()
      expect(info).to.include({ event: 'info', name: 'create-me.bin', infoHash: event!.infoHash, length: 300_000, pieceLength: event!.pieceLength })
      expect(info!.files).to.deep.equal([{ path: 'create-me.bin', length: 300_000 }])
      expect(info!.magnet).to.match(new RegExp(`^magnet:\\?xt=urn:btih:${event!.infoHash}`))

      const human = await runCli(['info', torrentFile], 20_000)
      expect(human.exit.code, human.describe()).to.equal(0)
      expect(human.stdout).to.match(/^name\s+create-me\.bin$/m)
      expect(human.stdout).to.match(new RegExp(`^info hash\\s+${event!.infoHash}$`, 'm'))
      expect(human.stdout).to.match(/^size\s+293 KiB \(300000 bytes\)$/m)
      expect(human.stdout).to.match(/^piece length\s+\S+ KiB \(\d+ pieces\)$/m)
      expect(human.stdout).to.match(/^files \(1\)\s+293 KiB\s+create-me\.bin$/m)
      expect(human.stdout).to.match(new RegExp(`^magnet\\s+magnet:\\?xt=urn:btih:${event!.infoHash}`, 'm'))

      const magnet = await runCli(['info', info!.magnet, '--json'], 20_000)
      expect(magnet.exit.code).to.equal(0)
      expect(magnet.events()[0]).to.include({ event: 'info', source: 'magnet', infoHash: event!.infoHash, name: 'create-me.bin' })
    })
  })

  describe('seed in one process, download in another', function () {
    this.timeout(120_000)

    it('transfers a file over MSE (AES-128-CTR or RC4) with --encryption required and byte-identical output', async function () {
      const source = path.join(tmp, 'payload.bin')
      const data = randomBytes(3 * 1024 * 1024 + 12_345)
      await writeFile(source, data)

      const seeder = new CliProcess(['seed', source, '--json', '--encryption', 'required', ...QUIET_FLAGS])
      const seeding = await seeder.waitForEvent('seeding', 30_000)
      expect(seeding.port).to.be.a('number').above(0)
      expect(seeding.magnet).to.match(/^magnet:\?xt=urn:btih:[0-9a-f]{40}/)
      expect(seeder.events().find(e => e.event === 'listening')).to.include({ port: seeding.port, encryption: 'required' })

      const outDir = path.join(tmp, 'download-json')
      const downloader = new CliProcess([
        'download', seeding.magnet, '--peer', `127.0.0.1:${seeding.port}`,
        '--no-dht', '--no-tracker', '--no-lsd', '--no-nat', '--encryption', 'required', '--json', '-o', outDir
      ])
      const exit = await downloader.waitForExit(60_000)
      expect(exit.code, downloader.describe()).to.equal(0)
      expect(downloader.stderr, downloader.describe()).to.equal('')

      // Every stdout line is one JSON object with an event name.
      const events = downloader.events()
      for (const event of events) expect(event.event).to.be.a('string')
      const wires = events.filter(e => e.event === 'wire')
      expect(wires, downloader.describe()).to.have.length.of.at.least(1)
      expect(wires[0]).to.include({ address: `127.0.0.1:${seeding.port}`, role: 'initiator', fallback: false, initialPayload: 68 })
      // Both ends are webtorrent-mse: AES-128-CTR, or RC4 when a drawn pad was too short for the extension.
      expect(ENCRYPTED).to.include(wires[0].method)
      const done = events.find(e => e.event === 'done')
      expect(done, downloader.describe()).to.include({ name: 'payload.bin', length: data.length, path: path.join(outDir, 'payload.bin') })
      expect(done!.mseStats.connected.rc4 + done!.mseStats.connected['aes-128-ctr']).to.be.at.least(1)
      expect(done!.mseStats.connected.plaintext).to.equal(0)
      expect((done!.peers.byMethod.rc4 ?? 0) + (done!.peers.byMethod['aes-128-ctr'] ?? 0)).to.be.at.least(1)
      // progress at most about once a second
      const progress = events.filter(e => e.event === 'progress')
      expect(progress.length).to.be.at.most(Math.ceil(done!.elapsedMs / 1000) + 2)

      const downloaded = await readFile(path.join(outDir, 'payload.bin'))
      expect(downloaded.equals(data), 'downloaded bytes differ from the source').to.equal(true)

      // A second download, human and --quiet: only the result line.
      const quietDir = path.join(tmp, 'download-quiet')
      const quiet = await runCli(['download', seeding.magnet, '--peer', `127.0.0.1:${seeding.port}`, ...QUIET_FLAGS, '--encryption', 'required', '-q', '-o', quietDir], 60_000)
      expect(quiet.exit.code, quiet.describe()).to.equal(0)
      expect(quiet.lines(), quiet.describe()).to.have.length(1)
      expect(quiet.lines()[0]).to.match(new RegExp(`^done: ${path.join(quietDir, 'payload.bin').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(`))
      expect((await readFile(path.join(quietDir, 'payload.bin'))).equals(data)).to.equal(true)

      // A third, human with --verbose: one line per peer connection with its encryption (the default
      // human output shows only the counts).
      const verbose = await runCli(['download', seeding.magnet, '--peer', `127.0.0.1:${seeding.port}`, ...QUIET_FLAGS, '--encryption', 'required', '--verbose', '-o', path.join(tmp, 'download-verbose')], 60_000)
      expect(verbose.exit.code, verbose.describe()).to.equal(0)
      expect(verbose.stdout, verbose.describe()).to.match(new RegExp(`^connected to 127\\.0\\.0\\.1:${seeding.port as number} over (TCP|uTP): (rc4|aes-128-ctr) \\(MSE`, 'm'))
      expect(quiet.stdout).to.not.match(/^connected to /m)

      // The seeder saw encrypted incoming connections, and stops cleanly (exit 0) on SIGINT.
      await seeder.waitForEvent('wire', 10_000, e => e.role === 'responder')
      seeder.kill('SIGINT')
      const seederExit = await seeder.waitForExit(15_000)
      expect(seederExit.code, seeder.describe()).to.equal(0)
      const seederEvents = seeder.events()
      expect(seederEvents.filter(e => e.event === 'wire').every(e => ENCRYPTED.includes(e.method))).to.equal(true)
      const stopped = seederEvents.find(e => e.event === 'stopped')
      expect(stopped).to.include({ signal: 'SIGINT' })
      expect(stopped!.uploaded).to.be.at.least(2 * data.length)
    })

    // A policy mismatch repeats on every redial: it is explained on the first refusal (bounded here by
    // 10 s), and with no other peer source `download` ends with exit 1 and the flag that would help.
    const mismatches = [
      { seeder: 'required', downloader: 'disabled', what: /closed the connection on our plaintext handshake without answering: it seems to require encryption/, hint: '--encryption preferred (or tolerated) would retry it with MSE', attempt: 'plaintext', code: 'no-answer' },
      { seeder: 'disabled', downloader: 'required', what: /closed the connection on our encrypted handshake: it seems to accept only plaintext/, hint: '--encryption preferred would retry it in plaintext', attempt: 'mse', code: 'peer-closed' }
    ]
    for (const m of mismatches) {
      it(`a ${m.downloader} downloader and a ${m.seeder} seeder: explained within 10 s, then exit 1`, async function () {
        const source = path.join(tmp, `refused-${m.seeder}.bin`)
        await writeFile(source, randomBytes(100_000))
        const seeder = new CliProcess(['seed', source, '--json', '--encryption', m.seeder, ...QUIET_FLAGS])
        const seeding = await seeder.waitForEvent('seeding', 30_000)
        const address = `127.0.0.1:${seeding.port}`
        const args = ['download', seeding.magnet, '--peer', address, ...QUIET_FLAGS, '--encryption', m.downloader, '-o', path.join(tmp, `refused-${m.downloader}`)]
        const json = new CliProcess([...args, '--json'])
        await json.waitForEvent('infoHash', 20_000)
        const failed = await json.waitForEvent('connection-failed', 10_000)
        expect(failed).to.include({ address, role: 'initiator', attempt: m.attempt, code: m.code, policyMismatch: true, hint: m.hint })
        expect(failed.message).to.match(m.what).and.include(`peer ${address}`)
        expect((await json.waitForExit(40_000)).code, json.describe()).to.equal(1)
        const error = json.events().at(-1)
        expect(error).to.include({ event: 'error', code: 'no-usable-peer' })
        expect(error!.message).to.include(`no usable peer under --encryption ${m.downloader}: peer ${address}`).and.include(m.hint)
        // No payload moved, so no counter shows our handshake bytes as uploaded data.
        expect(json.events().filter(e => e.event === 'progress' && e.uploaded !== 0)).to.deep.equal([])

        const human = await runCli(args, 40_000)
        expect(human.exit.code, human.describe()).to.equal(1)
        expect(human.stderr).to.match(new RegExp(`^webtorrent-mse: warning: peer ${address.replace(/\./g, '\\.')} `, 'm'))
        expect(human.stderr.trim().split('\n').at(-1)).to.match(/^webtorrent-mse: no usable peer under --encryption/)
        expect(human.stderr).to.not.match(/\n\s+at /)

        seeder.kill('SIGTERM')
        expect((await seeder.waitForExit(15_000)).code).to.equal(0)
        // The seeder explains the other side too (incoming connections it refused).
        const seen = seeder.events().filter(e => e.event === 'connection-failed')
        expect(seen.length, seeder.describe()).to.be.at.least(1)
        expect(seen[0]).to.include({ role: 'responder', policyMismatch: true })
      })
    }
  })

  describe('demo', function () {
    this.timeout(90_000)

    it('seeds, downloads and verifies over MSE, then exits 0', async function () {
      const cli = await runCli(['demo', '--size', '2'], 70_000)
      expect(cli.exit.code, cli.describe()).to.equal(0)
      expect(cli.stdout).to.match(/downloader → seeder 127\.0\.0\.1:\d+ \(initiator, TCP.*\): (rc4 \(MSE\)|aes-128-ctr \(MSE, negotiated with a webtorrent-mse peer\)), IA carried the BitTorrent handshake/)
      expect(cli.stdout).to.match(/^demo passed: 2\.0 MiB downloaded over (rc4|aes-128-ctr) \(MSE\) and verified/m)
      expect(cli.stderr).to.equal('')
    })

    it('--json: valid JSON per line, verified SHA-256, the same cipher on both sides', async function () {
      const cli = await runCli(['demo', '--size', '1', '--json'], 70_000)
      expect(cli.exit.code, cli.describe()).to.equal(0)
      const events = cli.events()
      const done = events.find(e => e.event === 'done')
      expect(done, cli.describe()).to.include({ verified: true, length: 1024 * 1024 })
      expect(done!.sha256).to.equal(done!.sourceSha256).and.match(/^[0-9a-f]{64}$/)
      const methods = done!.connections.map((c: any) => c.method)
      expect(done!.connections.map((c: any) => c.side)).to.include.members(['downloader', 'seeder'])
      // The same cipher on both sides: AES-128-CTR (or RC4 when a drawn pad was too short for the extension).
      expect(ENCRYPTED).to.include(methods[0])
      expect(new Set(methods).size).to.equal(1)
      expect(done!.mseStats.downloader.connected.rc4 + done!.mseStats.downloader.connected['aes-128-ctr']).to.equal(1)
    })

    it('shows a fallback: a tolerated downloader retries with MSE against a seeder that requires it', async function () {
      const cli = await runCli(['demo', '--size', '1', '--encryption', 'tolerated', '--seeder-encryption', 'required', '--json'], 70_000)
      expect(cli.exit.code, cli.describe()).to.equal(0)
      const done = cli.events().find(e => e.event === 'done')
      const downloaderConnection = done!.connections.find((c: any) => c.side === 'downloader')
      expect(downloaderConnection).to.include({ fallback: true })
      expect(ENCRYPTED).to.include(downloaderConnection.method)
      expect(done!.mseStats.downloader.fallbacks.toMse).to.equal(1)
    })

    it('fails (exit 1) with the reason when the pair cannot connect', async function () {
      const cli = await runCli(['demo', '--size', '1', '--encryption', 'disabled', '--seeder-encryption', 'required'], 70_000)
      expect(cli.exit.code, cli.describe()).to.equal(1)
      expect(cli.stderr).to.match(/could not connect to the seeder.*plaintext-refused/)
    })
  })
})
