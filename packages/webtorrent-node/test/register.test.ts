/**
 * register mode: an unmodified webtorrent program (test/fixtures/plain-downloader.mjs, which imports plain
 * `webtorrent`) run in a child process with `--import webtorrent-node/register` gets webtorrent-node's MSE on
 * its TCP connections, with the policy taken from WEBTORRENT_MSE_ENCRYPTION or mapped from its `secure`.
 *
 * How the seeder (our client, in this process) tells our MSE from upstream's own PE: our initiator sends the
 * BitTorrent handshake inside the MSE handshake as IA (68 bytes); upstream's never does (IA length 0).
 */
import { spawn } from 'node:child_process'
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import type { EncryptionPolicy } from '../src/index.js'
import { Fixtures, addressOf, seed } from './helpers.js'
import { seededBytes, sha256, within } from 'test-support'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const program = fileURLToPath(new URL('./fixtures/plain-downloader.mjs', import.meta.url))
const requireFirst = fileURLToPath(new URL('./fixtures/require-first.cjs', import.meta.url))
const ourWebtorrent = dirname(createRequire(import.meta.url).resolve('webtorrent'))

interface ChildResult {
  code: number | null
  report: any
  stderr: string
}

/**
 * A program with its own installed copy of webtorrent (another module instance than webtorrent-node's, as
 * when the program's package.json pins its own webtorrent), made by copying the package next to the program.
 * It lives inside this package (in the git-ignored .tmp) so the copy's dependencies still resolve.
 */
function programWithOwnCopy (edit?: (peerJs: string) => string): { program: string, requireFirst: string, preload: string, copy: string, dir: string } {
  mkdirSync(join(packageDir, '.tmp'), { recursive: true })
  const dir = mkdtempSync(join(packageDir, '.tmp', 'own-copy-'))
  const copy = join(dir, 'node_modules', 'webtorrent')
  cpSync(ourWebtorrent, copy, { recursive: true })
  if (edit) writeFileSync(join(copy, 'lib', 'peer.js'), edit(readFileSync(join(copy, 'lib', 'peer.js'), 'utf8')))
  copyFileSync(program, join(dir, 'plain-downloader.mjs'))
  copyFileSync(requireFirst, join(dir, 'require-first.cjs'))
  // Loads the program's copy before register mode's hooks exist, as an earlier --import would.
  writeFileSync(join(dir, 'preload.mjs'), "import 'webtorrent'\n")
  return { program: join(dir, 'plain-downloader.mjs'), requireFirst: join(dir, 'require-first.cjs'), preload: join(dir, 'preload.mjs'), copy, dir }
}

async function runPlainProgram (args: { register?: string, preload?: string, secure: string, env?: Record<string, string>, torrentFile: string, peer: string, program?: string }): Promise<ChildResult> {
  // tsx's ESM hooks only: its CommonJS hooks would resolve webtorrent's own imports with require conditions.
  const nodeArgs = ['--import', 'tsx/esm', '--conditions=source']
  if (args.preload) nodeArgs.push('--import', args.preload)
  if (args.register) nodeArgs.push('--import', args.register)
  const env: NodeJS.ProcessEnv = { ...process.env, ...args.env }
  if (args.env?.WEBTORRENT_MSE_ENCRYPTION === undefined) delete env.WEBTORRENT_MSE_ENCRYPTION
  delete env.DEBUG
  const child = spawn(process.execPath, [...nodeArgs, args.program ?? program, args.torrentFile, args.peer, args.secure], { cwd: packageDir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += String(chunk) })
  child.stderr.on('data', chunk => { stderr += String(chunk) })
  const code = await within(new Promise<number | null>(resolve => child.once('exit', resolve)), 25_000, 'the plain webtorrent program')
    .finally(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const line = stdout.trim().split('\n').pop() ?? ''
  let report: any
  try { report = JSON.parse(line) } catch { report = { unparsable: stdout } }
  return { code, report, stderr }
}

/** Our responder's MSE outcome for each peer of a torrent (peer.conn is our MseStream). */
function responderOutcomes (torrent: any): any[] {
  return [...torrent._peers.values()].map((peer: any) => peer.conn?.outcome).filter(Boolean)
}

describe('register mode: an unmodified webtorrent program gets MSE', function () {
  this.timeout(40_000)
  const fx = new Fixtures()
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 'wt-register-')) })
  after(() => rmSync(dir, { recursive: true, force: true }))
  afterEach(() => fx.cleanup())

  async function scenario (seederPolicy: EncryptionPolicy, seedValue: number): Promise<{ seeder: any, seeding: any, data: Buffer, torrentFile: string }> {
    const seeder = await fx.ours(seederPolicy)
    const data = seededBytes(768 * 1024 + 5, seedValue)
    const seeding = await seed(seeder, data)
    const torrentFile = join(dir, `${seedValue}.torrent`)
    writeFileSync(torrentFile, seeding.torrentFile)
    return { seeder, seeding, data, torrentFile }
  }

  it('--import webtorrent-node/register with secure: 2 -> policy required, RC4 through our MSE (IA carries the handshake)', async () => {
    const { seeder, seeding, data, torrentFile } = await scenario('preferred', 801)
    let seenByUs: any
    seeding.on('wire', (wire: any) => { seenByUs ??= { mse: wire.mse, outcome: responderOutcomes(seeding)[0] } })
    const result = await runPlainProgram({ register: 'webtorrent-node/register', secure: '2', torrentFile, peer: addressOf(seeder) })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.report.sha256).to.equal(sha256(data))
    expect(result.report.policy).to.equal('required')
    expect(result.report.wireMse).to.include({ role: 'initiator', attempt: 'mse', method: 'rc4', fallback: false })
    expect(result.report.peEnabled, 'upstream\'s own PE is switched off').to.equal(0)
    expect(result.report.stats.connected.rc4).to.equal(1)
    const { budget, ...counters } = result.report.mseStats
    expect(counters, 'client.mseStats in the unmodified program').to.deep.equal(result.report.stats)
    // It only dialled out: outgoing connections never take from the incoming handshake budget.
    expect(budget).to.include({ admitted: 0, inFlight: 0 })

    expect(seeder.mseStats.connected).to.deep.equal({ rc4: 1, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
    expect(seenByUs.mse).to.include({ role: 'responder', method: 'rc4' })
    expect(seenByUs.outcome.method).to.equal('rc4')
    expect(seenByUs.outcome.initialPayloadLength, 'our initiator\'s IA: the 68-byte BitTorrent handshake').to.equal(68)
  })

  it('--import ./src/register.ts with WEBTORRENT_MSE_ENCRYPTION=required (secure left at its default 1)', async () => {
    // The seeder is `tolerated`: upstream's own PE (provide 0x03) would get plaintext-after-mse from it; our
    // `required` initiator offers RC4 only, so RC4 proves the policy came from the environment.
    const { seeder, seeding, data, torrentFile } = await scenario('tolerated', 802)
    let seenByUs: any
    seeding.on('wire', (wire: any) => { seenByUs ??= { mse: wire.mse } })
    const result = await runPlainProgram({ register: './src/register.ts', secure: 'default', env: { WEBTORRENT_MSE_ENCRYPTION: 'required' }, torrentFile, peer: addressOf(seeder) })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.report.sha256).to.equal(sha256(data))
    expect(result.report.policy).to.equal('required')
    expect(result.report.wireMse).to.include({ role: 'initiator', method: 'rc4' })
    expect(seenByUs.mse).to.include({ role: 'responder', method: 'rc4' })
    expect(seeder.mseStats.connected.rc4).to.equal(1)
  })

  it('with secure: 0 and no environment, register maps to disabled: plain BitTorrent', async () => {
    const { seeder, seeding, data, torrentFile } = await scenario('preferred', 803)
    let seenByUs: any
    seeding.on('wire', (wire: any) => { seenByUs ??= { mse: wire.mse } })
    const result = await runPlainProgram({ register: 'webtorrent-node/register', secure: '0', torrentFile, peer: addressOf(seeder) })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.report.sha256).to.equal(sha256(data))
    expect(result.report.policy).to.equal('disabled')
    expect(result.report.wireMse).to.include({ attempt: 'plaintext', method: 'plaintext' })
    expect(seenByUs.mse.method).to.equal('plaintext')
  })

  it('control: the same program without register uses upstream\'s own PE (no wire.mse, IA empty)', async () => {
    const { seeder, seeding, data, torrentFile } = await scenario('preferred', 804)
    let seenByUs: any
    seeding.on('wire', (wire: any) => {
      seenByUs ??= { mse: wire.mse, outcome: responderOutcomes(seeding)[0] }
    })
    const result = await runPlainProgram({ secure: '2', torrentFile, peer: addressOf(seeder) })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.report.sha256).to.equal(sha256(data))
    expect(result.report.policy).to.equal(null)
    expect(result.report.wireMse).to.equal(null)
    expect(result.report.mseStats).to.equal(null)
    expect(result.report.peEnabled).to.equal(2)
    expect(result.report.upstreamMethod).to.equal(2)
    expect(seenByUs.mse.method).to.equal('rc4')
    expect(seenByUs.outcome.initialPayloadLength, 'upstream sends no IA').to.equal(0)
  })

  describe('a program with its own copy of webtorrent', () => {
    const copies: string[] = []
    after(() => { for (const copy of copies) rmSync(copy, { recursive: true, force: true }) })

    const loaders = {
      import: 'the copy the program imports is patched as it loads',
      require: 'the copy the program requires is patched as it loads',
      preload: 'a copy loaded before register mode (an earlier --import) is found from the program\'s directory and patched'
    }
    let seedValue = 805
    for (const [loader, title] of Object.entries(loaders)) {
      const value = seedValue++
      it(`${title}: RC4 through our MSE, wire.mse, client.mseStats, no warning`, async () => {
        const app = programWithOwnCopy()
        copies.push(app.dir)
        const { seeder, seeding, data, torrentFile } = await scenario('tolerated', value)
        let seenByUs: any
        seeding.on('wire', (wire: any) => { seenByUs ??= { mse: wire.mse, outcome: responderOutcomes(seeding)[0] } })
        const result = await runPlainProgram({
          register: 'webtorrent-node/register',
          secure: '2',
          torrentFile,
          peer: addressOf(seeder),
          program: loader === 'require' ? app.requireFirst : app.program,
          preload: loader === 'preload' ? app.preload : undefined
        })
        expect(result.code, result.stderr).to.equal(0)
        expect(fileURLToPath(result.report.webtorrentUrl), 'the program ran its own copy').to.equal(join(app.copy, 'index.js'))
        expect(result.report.sha256).to.equal(sha256(data))
        expect(result.report.policy).to.equal('required')
        expect(result.report.wireMse).to.include({ role: 'initiator', attempt: 'mse', method: 'rc4', fallback: false })
        expect(result.report.peEnabled).to.equal(0)
        expect(result.report.mseStats.connected).to.deep.equal({ rc4: 1, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
        expect(seenByUs.outcome.initialPayloadLength, 'our initiator\'s IA, not upstream PE').to.equal(68)
        expect(result.stderr).to.not.match(/webtorrent-node/)
      })
    }

    it('a copy that cannot be patched: one warning line on stderr naming it, and the program still runs', async () => {
      const app = programWithOwnCopy(peerJs => {
        // A copy whose Wire ignores the peer's PE level: the patch could not switch bittorrent-protocol's own PE off.
        const changed = peerJs.replace('new Wire(this.type, this.secure)', 'new Wire(this.type, 1)')
        expect(changed, 'the seam the test changes').to.not.equal(peerJs)
        return changed
      })
      copies.push(app.dir)
      const { seeder, data, torrentFile } = await scenario('preferred', 809)
      const result = await runPlainProgram({ register: 'webtorrent-node/register', secure: '2', torrentFile, peer: addressOf(seeder), program: app.requireFirst })
      expect(result.code, result.stderr).to.equal(0)
      expect(result.report.sha256).to.equal(sha256(data))
      expect(result.report.wireMse, 'not patched').to.equal(null)
      const lines = result.stderr.split('\n').filter(line => line.includes('webtorrent-node'))
      expect(lines, result.stderr).to.have.length(1)
      expect(lines[0]).to.include(app.copy).and.to.include('NOT encrypted').and.to.include('Peer.prototype.onConnect')
    })
  })

  it('WEBTORRENT_MSE_ENCRYPTION=bogus: one line saying the valid values, exit code 2, no stack trace', async () => {
    const result = await runPlainProgram({ register: 'webtorrent-node/register', secure: 'default', env: { WEBTORRENT_MSE_ENCRYPTION: 'bogus' }, torrentFile: 'unused.torrent', peer: '127.0.0.1:1' })
    expect(result.code).to.equal(2)
    expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1)
    expect(result.stderr).to.include('WEBTORRENT_MSE_ENCRYPTION="bogus"').and.to.include('required, preferred, tolerated, disabled')
    expect(result.report.unparsable, 'the program never ran').to.equal('')
  })
})
