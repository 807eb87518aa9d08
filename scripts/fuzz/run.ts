/**
 * `npm run fuzz [-- --inputs N --socket-cases M --seed S --jobs J]`: the full fuzzing run.
 *
 * 1. mse-core, both roles: N generated inputs each (default 10^6), in J worker processes (default 2, one
 *    per core), with the seed corpus from test-fixtures/fuzz/ first;
 * 2. MseStream over real sockets: M cases (default 10^5), split over J workers;
 * 3. V8 coverage of all workers (NODE_V8_COVERAGE), reported by c8 for mse-core/src and mse-wire/src.
 *
 * Writes fuzz-report.json at the repository root (git-ignored) and prints a summary. Crash reproducers go
 * to test-fixtures/fuzz/ (commit them: the replay tests pick them up). Exit code 1 when anything broke.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Report } from 'c8'
import type { CampaignStats } from '../../packages/mse-core/test/fuzz/campaign.js'
import { bufferBound } from '../../packages/mse-core/test/fuzz/oracle.js'
import type { SocketStats } from '../../packages/mse-wire/test/fuzz/socket-campaign.js'
import type { HandshakeStage } from '../../packages/mse-core/src/index.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const REPORT_FILE = join(ROOT, 'fuzz-report.json')
const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url))

type Crashes = Array<{ error: string, file: string }>
type CoreResult = Omit<CampaignStats, 'crashes'> & { crashes: Crashes }
type SocketResult = Omit<SocketStats, 'crashes'> & { crashes: Crashes }

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    'socket-cases': { type: 'string', default: '100000' },
    seed: { type: 'string' },
    jobs: { type: 'string', default: '2' }
  }
})
const inputs = Number(values.inputs)
const socketCases = Number(values['socket-cases'])
const jobs = Math.max(1, Number(values.jobs))
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 30)
for (const [name, value] of [['--inputs', inputs], ['--socket-cases', socketCases], ['--jobs', jobs], ['--seed', seed]] as const) {
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`${name} must be a non-negative integer`)
    process.exit(2)
  }
}

const coverageDir = mkdtempSync(join(tmpdir(), 'mse-fuzz-coverage-'))

/** Runs one worker; resolves with its JSON line. */
async function worker (args: string[]): Promise<unknown> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--conditions=source', WORKER, ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_V8_COVERAGE: coverageDir },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { out += text })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`fuzz worker ${args.join(' ')} exited with ${code}`)
  return JSON.parse(out.trim().split('\n').pop()!)
}

/** Runs tasks with at most `limit` at a time. */
async function pool<T> (tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, async () => {
    while (next < tasks.length) {
      const k = next++
      results[k] = await tasks[k]!()
    }
  }))
  return results
}

function shares (total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_x, k) => Math.floor(total / parts) + (k < total % parts ? 1 : 0)).filter(n => n > 0)
}

function add (into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n
  return into
}

interface Totals { total: number, covered: number, pct: number }
type Summary = Record<string, { lines: Totals, branches: Totals, functions: Totals, statements: Totals }>

async function coverage (): Promise<Record<string, unknown>> {
  const reportsDirectory = join(coverageDir, 'report')
  await Report({
    tempDirectory: coverageDir,
    reportsDirectory,
    reporter: ['json-summary'],
    include: ['packages/mse-core/src/**', 'packages/mse-wire/src/**'],
    all: true,
    src: [join(ROOT, 'packages/mse-core/src'), join(ROOT, 'packages/mse-wire/src')],
    extension: ['.ts'],
    excludeNodeModules: true
  }).run()
  const summary = JSON.parse(readFileSync(join(reportsDirectory, 'coverage-summary.json'), 'utf8')) as Summary
  const pct = (t: Totals): number => t.total === 0 ? 100 : Math.round(1000 * t.covered / t.total) / 10
  const packages: Record<string, Record<string, { covered: number, total: number, pct: number }>> = {}
  const files: Record<string, { lines: number, branches: number, functions: number }> = {}
  for (const [path, s] of Object.entries(summary)) {
    if (path === 'total') continue
    const rel = path.slice(ROOT.length).replace(/^packages\//, '')
    files[rel] = { lines: s.lines.pct, branches: s.branches.pct, functions: s.functions.pct }
    const pkg = rel.split('/')[0]!
    packages[pkg] ??= {}
    for (const metric of ['lines', 'branches', 'functions'] as const) {
      const into = packages[pkg]![metric] ??= { covered: 0, total: 0, pct: 0 }
      into.covered += s[metric].covered
      into.total += s[metric].total
      into.pct = pct(into)
    }
  }
  return { tool: 'V8 block coverage of every worker (NODE_V8_COVERAGE), mapped to the TypeScript sources by c8', ...packages, files }
}

async function main (): Promise<void> {
  const started = Date.now()
  console.log(`fuzz: ${inputs} inputs per role, ${socketCases} socket cases, ${jobs} job(s), seed ${seed}`)

  const perRole = Math.max(1, Math.floor(jobs / 2))
  const coreTasks = (['initiator', 'responder'] as const).flatMap(role => shares(inputs, perRole).map((n, k) =>
    async () => await worker(['core', role, String(n), String(seed + k * 1_000_000), k === 0 ? 'corpus' : '']) as CoreResult))
  const core = await pool(coreTasks, jobs)
  const coreSeconds = (Date.now() - started) / 1000

  const socketStarted = Date.now()
  const socket = await pool(shares(socketCases, jobs).map((n, k) =>
    async () => await worker(['socket', String(n), String(seed + 500_000 + k * 1_000_000), k === 0 ? 'corpus' : '']) as SocketResult), jobs)
  const socketSeconds = (Date.now() - socketStarted) / 1000

  const byRole = (role: string): CoreResult[] => core.filter(c => c.role === role)
  const sum = (rows: CoreResult[], pick: (c: CoreResult) => number): number => rows.reduce((t, c) => t + pick(c), 0)
  const roles = { initiator: byRole('initiator'), responder: byRole('responder') }
  const maxBuffered = {
    initiator: Math.max(0, ...roles.initiator.map(c => c.maxBuffered)),
    responder: Math.max(0, ...roles.responder.map(c => c.maxBuffered))
  }
  const crashes = [
    ...core.flatMap(c => c.crashes.map(k => ({ kind: `core ${c.role}`, ...k }))),
    ...socket.flatMap(s => s.crashes.map(k => ({ kind: 'socket', ...k })))
  ]
  const uncaught = socket.flatMap(s => s.uncaught)
  const leaks = socket.filter(s => JSON.stringify(s.handles.after) !== JSON.stringify(s.handles.before))
  const coverageReport = await coverage()
  rmSync(coverageDir, { recursive: true, force: true })

  const report = {
    date: new Date().toISOString(),
    seed,
    tool: 'fast-check 4.11.0: generated structured inputs with shrinking (not coverage-guided: Jazzer.js 4.0.0 needs glibc 2.38, older releases download binaries)',
    machine: { node: process.version, cpus: cpus().length, loadavg: loadavg().map(l => Math.round(l * 100) / 100), jobs },
    inputs: { initiator: sum(roles.initiator, c => c.inputs), responder: sum(roles.responder, c => c.inputs) },
    crashes,
    max_buffered_bytes: Math.max(maxBuffered.initiator, maxBuffered.responder),
    max_buffered_bytes_by_role: maxBuffered,
    // Per stage: the largest buffer seen and the bound it is checked against (spec windows and lengths).
    max_buffered_bytes_by_stage: {
      initiator: byStage('initiator', roles.initiator),
      responder: byStage('responder', roles.responder)
    },
    well_formed: { initiator: sum(roles.initiator, c => c.wellFormed), responder: sum(roles.responder, c => c.wellFormed) },
    outcomes: {
      initiator: roles.initiator.reduce((o, c) => add(o, c.outcomes), {}),
      responder: roles.responder.reduce((o, c) => add(o, c.outcomes), {})
    },
    seconds: { core: coreSeconds, socket: socketSeconds, total: (Date.now() - started) / 1000 },
    socket: {
      cases: socket.reduce((t, s) => t + s.cases, 0),
      crashes: socket.reduce((t, s) => t + s.crashes.length, 0),
      uncaught,
      leaked_handles: leaks.map(s => ({ before: s.handles.before, after: s.handles.after })),
      heap_mib: socket.map(s => ({ before: round(s.heapMiB.before), after: round(s.heapMiB.after), peak_rss: round(s.heapMiB.peakRss) })),
      outcomes: socket.reduce((o, s) => add(o, s.outcomes), {}),
      stream_errors: socket.reduce((o, s) => add(o, s.streamErrors), {})
    },
    coverage: coverageReport
  }
  writeFileSync(REPORT_FILE, JSON.stringify(report, null, 2) + '\n')

  const cov = coverageReport as Record<string, Record<string, { pct: number }>>
  console.log([
    '',
    `inputs: initiator ${report.inputs.initiator}, responder ${report.inputs.responder} (well formed: ${report.well_formed.initiator} / ${report.well_formed.responder})`,
    `socket cases: ${report.socket.cases}`,
    `crashes: ${crashes.length}, uncaught: ${uncaught.length}, leaked handles: ${leaks.length}`,
    `max buffered bytes: initiator ${maxBuffered.initiator}, responder ${maxBuffered.responder}`,
    `time: core ${coreSeconds.toFixed(0)} s, socket ${socketSeconds.toFixed(0)} s, total ${report.seconds.total.toFixed(0)} s`,
    `coverage: mse-core lines ${cov['mse-core']?.lines?.pct}% branches ${cov['mse-core']?.branches?.pct}%, mse-wire lines ${cov['mse-wire']?.lines?.pct}% branches ${cov['mse-wire']?.branches?.pct}%`,
    ...crashes.map(c => `CRASH ${c.kind}: ${c.error} -> ${c.file}`),
    `written to ${REPORT_FILE}`
  ].join('\n'))
  if (crashes.length > 0 || uncaught.length > 0 || leaks.length > 0) process.exitCode = 1
}

function byStage (role: 'initiator' | 'responder', rows: CoreResult[]): Record<string, { max: number, bound: number }> {
  const out: Record<string, { max: number, bound: number }> = {}
  for (const row of rows) {
    for (const [key, n] of Object.entries(row.maxBufferedByStage)) {
      const [stage, ia] = key.split(' (maxInitialPayload ')
      const bound = bufferBound(role, stage as HandshakeStage, ia ? parseInt(ia, 10) : 68)
      out[key] = { max: Math.max(n, out[key]?.max ?? 0), bound }
    }
  }
  return out
}

function round (n: number): number {
  return Math.round(n * 10) / 10
}

await main()
