/**
 * register mode: an unmodified webtorrent program (test/fixtures/plain-downloader.mjs, which imports plain
 * `webtorrent`) run in a child process with `--import webtorrent-node/register` gets webtorrent-node's MSE on
 * its TCP connections, with the policy taken from WEBTORRENT_MSE_ENCRYPTION or mapped from its `secure`.
 *
 * How the seeder (our client, in this process) tells our MSE from upstream's own PE: our initiator sends the
 * BitTorrent handshake inside the MSE handshake as IA (68 bytes); upstream's never does (IA length 0).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import type { EncryptionPolicy } from '../src/index.js'
import { Fixtures, addressOf, seed, seededBytes, sha256, within } from './helpers.js'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const program = fileURLToPath(new URL('./fixtures/plain-downloader.mjs', import.meta.url))

interface ChildResult {
  code: number | null
  report: any
  stderr: string
}

async function runPlainProgram (args: { register?: string, secure: string, env?: Record<string, string>, torrentFile: string, peer: string }): Promise<ChildResult> {
  const nodeArgs = ['--import', 'tsx', '--conditions=source']
  if (args.register) nodeArgs.push('--import', args.register)
  const env: NodeJS.ProcessEnv = { ...process.env, ...args.env }
  if (!args.env?.WEBTORRENT_MSE_ENCRYPTION) delete env.WEBTORRENT_MSE_ENCRYPTION
  delete env.DEBUG
  const child = spawn(process.execPath, [...nodeArgs, program, args.torrentFile, args.peer, args.secure], { cwd: packageDir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += String(chunk) })
  child.stderr.on('data', chunk => { stderr += String(chunk) })
  const code = await within(25_000, 'the plain webtorrent program', new Promise<number | null>(resolve => child.once('exit', resolve)))
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

    expect(seeder.mseStats.connected).to.deep.equal({ rc4: 1, 'plaintext-after-mse': 0, plaintext: 0 })
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
    expect(result.report.peEnabled).to.equal(2)
    expect(result.report.upstreamMethod).to.equal(2)
    expect(seenByUs.mse.method).to.equal('rc4')
    expect(seenByUs.outcome.initialPayloadLength, 'upstream sends no IA').to.equal(0)
  })
})
