/**
 * `--no-aes`: two webtorrent-mse processes run RC4 instead of AES-128-CTR when either side turns AES off,
 * and say so in `--json`. Child processes over 127.0.0.1 only, killed by PID in the hooks; waits bounded.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { clientOptions, type NetworkOptions } from '../src/cli/options.js'
import { CliProcess, killAllChildren, runCli } from './cli-helpers.js'

const LOOPBACK = ['--no-dht', '--no-tracker', '--no-lsd', '--no-nat', '--no-utp', '-p', '0']

describe('webtorrent-mse --no-aes', function () {
  this.timeout(120_000)
  let tmp: string

  before(async function () {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'webtorrent-mse-no-aes-test-'))
  })

  afterEach(async function () {
    await killAllChildren()
  })

  after(async function () {
    await killAllChildren()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  it('maps to the client option mseAes: false, and leaves it unset without the flag', () => {
    const base: NetworkOptions = { encryption: 'preferred', peer: [], announce: [], downloadLimit: -1, uploadLimit: -1, dht: true, tracker: true, lsd: true, nat: true, utp: true, aes: true }
    expect(clientOptions({ ...base, aes: false }).mseAes).to.equal(false)
    expect(clientOptions(base)).to.not.have.property('mseAes')
  })

  for (const side of ['downloader', 'seeder'] as const) {
    it(`with --no-aes on the ${side}, both ends run RC4 (the --json wire events say so) and the file arrives intact`, async function () {
      const source = path.join(tmp, `${side}.bin`)
      const data = randomBytes(512 * 1024 + 7)
      await writeFile(source, data)
      const seederAes = side === 'seeder' ? ['--no-aes'] : []
      const downloaderAes = side === 'downloader' ? ['--no-aes'] : []

      const seeder = new CliProcess(['seed', source, '--json', '--encryption', 'required', ...seederAes, ...LOOPBACK])
      const seeding = await seeder.waitForEvent('seeding', 30_000)
      const outDir = path.join(tmp, `out-${side}`)
      const downloader = await runCli([
        'download', seeding.magnet, '--peer', `127.0.0.1:${seeding.port as number}`, '--encryption', 'required',
        '--json', '-o', outDir, ...downloaderAes, ...LOOPBACK
      ], 60_000)
      expect(downloader.exit.code, downloader.describe()).to.equal(0)
      const wires = downloader.events().filter(e => e.event === 'wire')
      expect(wires, downloader.describe()).to.have.length.of.at.least(1)
      for (const wire of wires) expect(wire.method, downloader.describe()).to.equal('rc4')
      const seederWire = await seeder.waitForEvent('wire', 10_000, e => e.role === 'responder')
      expect(seederWire.method, seeder.describe()).to.equal('rc4')
      expect((await readFile(path.join(outDir, path.basename(source)))).equals(data)).to.equal(true)
    })
  }
})
