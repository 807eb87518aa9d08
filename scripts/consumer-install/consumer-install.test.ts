/**
 * Consumer install, as a user outside this monorepo does it: the README's tarballs (scripts/pack-tarballs),
 * a fresh project in the system's temporary directory with ONLY the README's package.json addition and its
 * install command (both read from README.md, so the instructions cannot drift from what is tested), then:
 * a plain webtorrent program under `--import webtorrent-node/register`, the `webtorrent-mse` CLI, and a
 * strict `tsc --noEmit` (no skipLibCheck) of a TypeScript consumer. npm runs with --prefer-offline: the
 * root install has already put every package in the npm cache.
 */
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'

/** Between two webtorrent-node clients (docs/mse-extension.md). */
const ENCRYPTED = ['aes-128-ctr', 'rc4']

const repo = fileURLToPath(new URL('../..', import.meta.url))
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url))
const rootManifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'))

interface Run { code: number | null, stdout: string, stderr: string }

/** Runs a command to completion (bounded), output captured. */
async function run (command: string, args: string[], cwd: string, ms: number, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += String(chunk) })
  child.stderr.on('data', chunk => { stderr += String(chunk) })
  let timer: NodeJS.Timeout | undefined
  const code = await new Promise<number | null>((resolve, reject) => {
    timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${command} ${args.join(' ')}: no exit within ${ms} ms\n${stderr}`)) }, ms)
    child.once('error', reject)
    child.once('exit', resolve)
  }).finally(() => clearTimeout(timer))
  return { code, stdout, stderr }
}

/** What README.md tells a user to do, by section: the JSON to add to package.json, and the install commands. */
function readmeInstructions (): { packageJsonAddition: Record<string, unknown>, installCommands: string[] } {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8')
  const start = readme.indexOf('### Using the packages in your own project')
  expect(start, 'README section "Using the packages in your own project"').to.be.greaterThan(-1)
  const rest = readme.slice(start + 4)
  const end = rest.search(/\n#{2,3} /)
  const section = end === -1 ? rest : rest.slice(0, end)
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map(([, lang, body]) => ({ lang, body }))
  const json = blocks.filter(block => block.lang === 'json')
  expect(json, 'one package.json addition').to.have.length(1)
  const inProject = blocks.filter(block => block.lang === 'sh' && block.body.startsWith('# in your project\n'))
  expect(inProject, 'one "# in your project" command block').to.have.length(1)
  const installCommands = inProject[0].body.split('\n').map(line => line.trim()).filter(line => line && !line.startsWith('#'))
  return { packageJsonAddition: JSON.parse(json[0].body), installCommands }
}

/** Last JSON line of a program's output. */
function lastJson (output: string): any {
  const lines = output.trim().split('\n').filter(line => line.startsWith('{'))
  return JSON.parse(lines[lines.length - 1] ?? 'null')
}

describe('consumer install: the packed packages in a fresh project outside the monorepo', function () {
  let project: string
  let install: Run

  before(async function () {
    this.timeout(300_000)
    project = realpathSync(mkdtempSync(join(tmpdir(), 'webtorrent-mse-consumer-')))
    expect(relative(repo, project).startsWith('..'), 'the project is outside the monorepo').to.equal(true)
    const packed = await run('bash', [join(repo, 'scripts/pack-tarballs'), join(project, 'vendor')], repo, 120_000)
    expect(packed.code, packed.stderr).to.equal(0)

    const { packageJsonAddition, installCommands } = readmeInstructions()
    // The project as the user had it: a webtorrent program, written in TypeScript. Then the README's addition.
    const manifest = {
      name: 'consumer',
      version: '1.0.0',
      private: true,
      type: 'module',
      dependencies: { webtorrent: '^3.0.21' },
      devDependencies: { typescript: rootManifest.devDependencies.typescript, '@types/node': rootManifest.devDependencies['@types/node'] },
      ...packageJsonAddition
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2) + '\n')
    for (const file of ['register-program.mjs', 'consumer.ts', 'tsconfig.json']) copyFileSync(join(fixtures, file), join(project, file))

    const npmEnv = { npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
    for (const command of installCommands) {
      install = await run('bash', ['-c', command], project, 240_000, npmEnv)
      expect(install.code, `${command}\n${install.stderr}`).to.equal(0)
    }
  })

  after(() => { if (project) rmSync(project, { recursive: true, force: true }) })

  it('installs with only the README\'s addition: the stand-in webrtc-polyfill, ip-set 2.2.0, one webtorrent', () => {
    const version = (name: string): string => JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8')).version
    expect(version('webtorrent-node')).to.equal('0.1.0')
    expect(version('webrtc-polyfill')).to.equal('1.99.0-local')
    expect(version('ip-set')).to.equal('2.2.0')
    expect(existsSync(join(project, 'node_modules', 'node-datachannel')), 'no node-datachannel download').to.equal(false)
  })

  it('a plain webtorrent program under --import webtorrent-node/register downloads over MSE (AES-128-CTR or RC4), with wire.mse and client.mseStats', async function () {
    this.timeout(60_000)
    const result = await run(process.execPath, ['--import', 'webtorrent-node/register', 'register-program.mjs'], project, 45_000, { WEBTORRENT_MSE_ENCRYPTION: '' })
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr, 'no warning from register mode').to.not.include('webtorrent-node')
    const report = lastJson(result.stdout)
    expect(report.verified).to.equal(true)
    expect(fileURLToPath(report.webtorrent).startsWith(project), 'the project\'s own webtorrent').to.equal(true)
    // Both ends are webtorrent-node: AES-128-CTR through the PadC/PadD extension, or RC4 when a drawn pad
    // was too short for it (~6%, docs/mse-extension.md).
    expect(report.downloaderWire).to.include({ role: 'initiator', attempt: 'mse' })
    expect(ENCRYPTED).to.include(report.downloaderWire.method)
    expect(report.seederWire).to.include({ role: 'responder', method: report.downloaderWire.method })
    expect(report.downloaderStats.connected[report.downloaderWire.method]).to.equal(1)
    expect(report.seederStats.connected[report.downloaderWire.method]).to.equal(1)
  })

  it('the webtorrent-mse CLI runs: its demo downloads over 127.0.0.1 with MSE and verifies the data', async function () {
    this.timeout(90_000)
    const result = await run(join(project, 'node_modules', '.bin', 'webtorrent-mse'), ['demo', '--size', '1', '--json'], project, 75_000)
    expect(result.code, result.stderr).to.equal(0)
    const done = lastJson(result.stdout)
    expect(done.event).to.equal('done')
    expect(done.verified).to.equal(true)
    const methods = done.connections.map((c: any) => c.method)
    expect(methods).to.have.length(2)
    expect(ENCRYPTED).to.include(methods[0])
    expect(methods[1]).to.equal(methods[0])
  })

  it('the typings stand alone: strict tsc --noEmit of a consumer using encryption, wire.mse and client.mseStats, without skipLibCheck', async function () {
    this.timeout(90_000)
    const tsconfig = JSON.parse(readFileSync(join(project, 'tsconfig.json'), 'utf8'))
    expect(tsconfig.compilerOptions).to.include({ strict: true, skipLibCheck: false })
    const result = await run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], project, 75_000)
    expect(result.code, result.stdout + result.stderr).to.equal(0)
  })
})
