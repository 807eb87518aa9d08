/**
 * Section `load`: 1,000 MSE handshakes started at once against a listening client, ours and upstream side by
 * side in one run, each side in its own process (load-peer.ts): a responder (the seeding client under test)
 * and an initiator that opens every connection at once and times each until the responder's BitTorrent
 * handshake arrives decrypted.
 *
 * - ours:     webtorrent-node, `encryption: 'required'`, its default handshake budget (so the figures include
 *             what the budget refuses, printed as such).
 * - upstream: webtorrent 3.0.21 `secure: 2`, as default users run it (no --openssl-legacy-provider).
 * - plaintext: webtorrent 3.0.21 `secure: 0`, the BitTorrent handshake in clear: what webtorrent itself
 *   spends on each accepted connection (socket, Peer, Wire, extensions, teardown), which any encryption
 *   inside webtorrent adds to. Its rate is the ceiling of ours, and the MSE layer's own CPU per handshake is
 *   a contender's CPU per handshake minus this one's.
 *
 * The 1,000 connections come from 250 loopback addresses (127.1.0.1 ... 127.1.0.250), 4 each: on the
 * Internet, concurrent handshakes come from as many peers, and the budget limits per address. Before the
 * measured burst, 50 warm-up handshakes (127.2.0.x) let every responder compile its hot paths (and each
 * initiator process warms up against a responder of its own first, load-peer.ts). The
 * responder records its event-loop delay (monitorEventLoopDelay, 1 ms resolution: how late a 1 ms timer
 * fires) from just before the burst until it is over. With 2 or more CPUs the responder is pinned to CPU 0
 * and the initiators to the others (taskset), for every contender alike: the rate is the responder's, not
 * what is left of it once the load generator took its share of a small machine.
 *
 *   node --import tsx --conditions=source scripts/bench/load.ts [--connections=N] [--addresses=N] [--rounds=N]
 */
import { cpus } from 'node:os'
import { pathToFileURL } from 'node:url'
import { buildPeerScript, spawnPeer } from './child.js'
import { fmt, fmtRatio, formatTable, median, ratio, round, target, type Row, type Section, type SectionReport } from './lib.js'
import { mergeShares, type InitiatorReport, type InitiatorShare } from './handshake-probe.js'
import type { LoadContender, LoopDelay, ResponderReport } from './load-peer.js'

export interface LoadRun {
  contender: LoadContender
  initiator: InitiatorReport
  responder: ResponderReport
  /** Event-loop delay of an idle process over the same span: what the machine alone does to a loop. */
  idleLoopDelayMs: LoopDelay
  /** Completed handshakes per second of responder CPU time: the rate with a core to itself. */
  handshakesPerCpuS: number
}

export interface LoadBenchOptions {
  connections?: number
  addresses?: number
  /** Rounds of all three contenders, one after the other (default 3): figures are medians over rounds. */
  rounds?: number
  log?: (line: string) => void
}

const CONTENDERS: Record<LoadContender, { legacyProvider: boolean }> = {
  // As the webtorrent-mse launcher starts node (OpenSSL RC4), and as a default upstream user runs it.
  ours: { legacyProvider: true },
  upstream: { legacyProvider: false },
  plaintext: { legacyProvider: false }
}
const ENCRYPTION: Record<LoadContender, 'mse' | 'plaintext'> = { ours: 'mse', upstream: 'mse', plaintext: 'plaintext' }
const RUN_TIMEOUT_MS = 180_000
/**
 * The responder on a CPU of its own, the initiators (the load generator, the same for every contender) on
 * the others: on a 2-CPU machine the initiators' CPU (~2.7 ms per handshake, as much as our responder's)
 * would otherwise come out of the responder's share, and the rate would measure the generator. Not pinned
 * on a single CPU, nor with LOAD_PIN=off (on a machine busy with other work, one CPU may be the busier one).
 */
const PINNING = cpus().length >= 2 && process.env.LOAD_PIN !== 'off' ? { responder: '0', initiators: `1-${cpus().length - 1}` } : undefined
/**
 * Several initiator processes, started together: one alone would be the bottleneck, not the responder. They
 * run with OpenSSL's RC4 (the legacy provider), the cheapest generator for every contender alike.
 */
const INITIATOR_PROCESSES = 4
/**
 * This machine is shared: one run of a contender can land on a busy second. Every round runs the three
 * contenders back to back; a ratio is taken within each round, and the median over rounds is reported.
 */
const DEFAULT_ROUNDS = 3
const CONTENDER_ORDER: readonly LoadContender[] = ['ours', 'upstream', 'plaintext']

async function runOnce (script: string, contender: LoadContender, connections: number, addresses: number): Promise<LoadRun> {
  const execArgv = process.env.LOAD_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LOAD_CPU_PROF}`] : []
  const responder = spawnPeer(script, ['responder', contender], { execArgv, legacyProvider: CONTENDERS[contender].legacyProvider, timeoutMs: RUN_TIMEOUT_MS, cpus: PINNING?.responder })
  const idle = spawnPeer(script, ['idle'], { timeoutMs: RUN_TIMEOUT_MS })
  const spawned = [responder, idle]
  try {
    const { port, infoHash } = await responder.message(m => m?.ready as { port: number, infoHash: string } | undefined)
    await idle.message(m => m?.ready as true | undefined)
    const initiate = async (count: number, addressCount: number, firstOctets: string): Promise<InitiatorReport> => {
      const per = Math.ceil(count / INITIATOR_PROCESSES)
      const initiators = Array.from({ length: INITIATOR_PROCESSES }, (_, k) => spawnPeer(script,
        ['initiator', String(port), infoHash, String(k * per), String(Math.min(per, count - k * per)), String(addressCount), firstOctets, ENCRYPTION[contender]], { timeoutMs: RUN_TIMEOUT_MS, cpus: PINNING?.initiators, legacyProvider: true }))
      spawned.push(...initiators)
      await Promise.all(initiators.map(async i => await i.message(m => m?.ready as true | undefined)))
      for (const initiator of initiators) initiator.send('go')
      const shares = await Promise.all(initiators.map(async i => await i.message(m => m?.initiator as InitiatorShare | undefined)))
      return mergeShares(shares, count)
    }
    await initiate(50, 50, '127.2')
    responder.send('start')
    idle.send('start')
    const initiator = await initiate(connections, addresses, '127.1')
    responder.send('stop')
    idle.send('stop')
    const report = await responder.message(m => m?.responder as ResponderReport | undefined)
    const { loopDelayMs: idleLoopDelayMs } = await idle.message(m => m?.idle as { loopDelayMs: LoopDelay } | undefined)
    return { contender, initiator, responder: report, idleLoopDelayMs, handshakesPerCpuS: initiator.completed / (report.cpuMs / 1000) }
  } finally {
    const grace = new Promise<void>(resolve => setTimeout(resolve, 5000).unref())
    await Promise.race([Promise.all(spawned.map(async c => await c.exited)), grace])
    for (const child of spawned) child.kill()
  }
}

export interface LoadBenchResult {
  load: {
    /** Each figure is the median over the rounds; `completed` is the fewest of any round, `failures` the sum. */
    handshakes_per_s: Record<LoadContender, number | null>
    p50_ms: Record<LoadContender, number | null>
    p99_ms: Record<LoadContender, number | null>
    loop_delay_p99_ms: Record<LoadContender, number | null>
    /** The same, in an idle process over the same span (the machine's own noise). */
    idle_loop_delay_p99_ms: Record<LoadContender, number | null>
    handshakes_per_cpu_s: Record<LoadContender, number | null>
    completed: Record<LoadContender, number>
    failures: Record<LoadContender, Record<string, number>>
    connections: number
    addresses: number
    rounds: number
    /** CPUs the responder and the initiators were pinned to (taskset), or null. */
    pinning: { responder: string, initiators: string } | null
    /** ours: mseStats.budget after the burst (refused counts by reason). */
    budget: unknown
    /**
     * Responder CPU ms per completed handshake beyond webtorrent's own per-connection work (the plaintext
     * contender's): what the encryption layer costs, ours and upstream's.
     */
    encryption_cpu_ms_per_handshake: { ours: number | null, upstream: number | null }
  }
  ratios: {
    load_rate_ours_vs_upstream: number | null
    load_cpu_rate_ours_vs_upstream: number | null
    /** webtorrent with no encryption at all vs upstream PE 2: the most any encryption inside webtorrent could reach. */
    load_rate_plaintext_vs_upstream: number | null
    /** ours as a share of webtorrent's rate with no encryption. */
    load_rate_ours_vs_plaintext: number | null
    /** The encryption layer's CPU per handshake, upstream's over ours. */
    load_encryption_cpu_upstream_vs_ours: number | null
  }
  runs: LoadRun[]
}

export async function runLoadBench (options: LoadBenchOptions = {}): Promise<LoadBenchResult> {
  const connections = options.connections ?? 1000
  const addresses = options.addresses ?? 250
  const rounds = options.rounds ?? DEFAULT_ROUNDS
  const log = options.log ?? (() => {})
  const script = buildPeerScript(new URL('./load-peer.ts', import.meta.url))
  const runs: LoadRun[] = []
  for (let n = 1; n <= rounds; n++) {
    for (const contender of CONTENDER_ORDER) {
      const run = await runOnce(script, contender, connections, addresses)
      runs.push(run)
      log(`  ${rounds > 1 ? `round ${n}/${rounds} ` : ''}${describeRun(run)}`)
    }
  }
  return summariseRuns(runs, { connections, addresses, rounds })
}

/** Medians over rounds of each contender's figures, and side-by-side ratios (see DEFAULT_ROUNDS). */
function summariseRuns (runs: LoadRun[], { connections, addresses, rounds }: { connections: number, addresses: number, rounds: number }): LoadBenchResult {
  const runsOf = (contender: LoadContender): LoadRun[] => runs.filter(r => r.contender === contender)
  /** A figure of each contender: the median over its rounds. */
  const each = (pick: (run: LoadRun) => number | null): Record<LoadContender, number | null> => {
    const of = (contender: LoadContender): number | null => {
      const values = runsOf(contender).map(pick).filter((v): v is number => v !== null && Number.isFinite(v))
      return values.length > 0 ? median(values) : null
    }
    return { ours: of('ours'), upstream: of('upstream'), plaintext: of('plaintext') }
  }
  /** A ratio between two contenders: taken within each round (side by side), then the median over rounds. */
  const sideBySide = (pick: (sameRound: Record<LoadContender, LoadRun>) => number | null): number | null => {
    const values: number[] = []
    for (let k = 0; k < rounds; k++) {
      const sameRound = { ours: runsOf('ours')[k]!, upstream: runsOf('upstream')[k]!, plaintext: runsOf('plaintext')[k]! }
      const value = pick(sameRound)
      if (value !== null && Number.isFinite(value)) values.push(value)
    }
    return values.length > 0 ? median(values) : null
  }
  const cpuMsPerHandshake = (run: LoadRun): number | null => run.initiator.completed > 0 ? run.responder.cpuMs / run.initiator.completed : null
  /** CPU ms per handshake beyond the plaintext contender's, in the same round. */
  const encryptionCpu = (sameRound: Record<LoadContender, LoadRun>, contender: LoadContender): number | null => {
    const total = cpuMsPerHandshake(sameRound[contender])
    const floor = cpuMsPerHandshake(sameRound.plaintext)
    return total === null || floor === null ? null : total - floor
  }
  const rate = (run: LoadRun): number => run.initiator.handshakesPerS
  const failures = (contender: LoadContender): Record<string, number> => {
    const merged: Record<string, number> = {}
    for (const run of runsOf(contender)) for (const [cause, n] of Object.entries(run.initiator.failures)) merged[cause] = (merged[cause] ?? 0) + n
    return merged
  }
  const rounded = (values: Record<LoadContender, number | null>, digits: number): Record<LoadContender, number | null> =>
    ({ ours: round(values.ours, digits), upstream: round(values.upstream, digits), plaintext: round(values.plaintext, digits) })
  const completed = (contender: LoadContender): number => Math.min(...runsOf(contender).map(r => r.initiator.completed))
  return {
    load: {
      handshakes_per_s: rounded(each(rate), 1),
      p50_ms: rounded(each(r => r.initiator.p50Ms), 1),
      p99_ms: rounded(each(r => r.initiator.p99Ms), 1),
      loop_delay_p99_ms: rounded(each(r => r.responder.loopDelayMs.p99), 2),
      idle_loop_delay_p99_ms: rounded(each(r => r.idleLoopDelayMs.p99), 2),
      handshakes_per_cpu_s: rounded(each(r => r.handshakesPerCpuS), 1),
      completed: { ours: completed('ours'), upstream: completed('upstream'), plaintext: completed('plaintext') },
      failures: { ours: failures('ours'), upstream: failures('upstream'), plaintext: failures('plaintext') },
      connections,
      addresses,
      rounds,
      pinning: PINNING ?? null,
      budget: runsOf('ours').at(-1)?.responder.budget,
      encryption_cpu_ms_per_handshake: {
        ours: round(sideBySide(r => encryptionCpu(r, 'ours')), 3),
        upstream: round(sideBySide(r => encryptionCpu(r, 'upstream')), 3)
      }
    },
    ratios: {
      load_rate_ours_vs_upstream: round(sideBySide(r => ratio(rate(r.ours), rate(r.upstream))), 2),
      load_cpu_rate_ours_vs_upstream: round(sideBySide(r => ratio(r.ours.handshakesPerCpuS, r.upstream.handshakesPerCpuS)), 2),
      load_rate_plaintext_vs_upstream: round(sideBySide(r => ratio(rate(r.plaintext), rate(r.upstream))), 2),
      load_rate_ours_vs_plaintext: round(sideBySide(r => ratio(rate(r.ours), rate(r.plaintext))), 2),
      load_encryption_cpu_upstream_vs_ours: round(sideBySide(r => ratio(encryptionCpu(r, 'upstream'), encryptionCpu(r, 'ours'))), 1)
    },
    runs
  }
}

function describeRun (run: LoadRun): string {
  const { initiator: i, responder: r } = run
  return `${run.contender.padEnd(9)} ${i.completed}/${i.count} in ${fmt(i.elapsedMs, 0)} ms: ${fmt(i.handshakesPerS, 0)}/s, p50 ${fmt(i.p50Ms, 0)} ms, p99 ${fmt(i.p99Ms, 0)} ms; ` +
    `loop delay p99 ${fmt(r.loopDelayMs.p99, 1)} ms (max ${fmt(r.loopDelayMs.max, 0)}; idle process alongside: p99 ${fmt(run.idleLoopDelayMs.p99, 1)}); ` +
    `responder CPU ${fmt(r.cpuMs, 0)} ms (${fmt(run.handshakesPerCpuS, 0)} handshakes per CPU s), initiators' CPU ${fmt(i.cpuMs, 0)} ms; ` +
    `failures ${JSON.stringify(i.failures)}${r.budget ? `; budget ${JSON.stringify(r.budget)}` : ''}`
}

export const loadSection: Section = {
  name: 'load',
  description: '1,000 concurrent incoming MSE handshakes: ours (default budget) vs upstream secure: 2, and webtorrent with no encryption as the floor, responders in their own processes',
  async run (): Promise<SectionReport> {
    const result = await runLoadBench({ log: line => console.log(line) })
    const { load } = result
    const loopTarget = load.loop_delay_p99_ms.ours
    const rows: Row[] = [
      ['handshakes/s (1,000 at once)', fmt(load.handshakes_per_s.ours, 0), `${fmt(load.handshakes_per_s.upstream, 0)} upstream PE 2`, fmtRatio(result.ratios.load_rate_ours_vs_upstream), '>= 10x'],
      ['handshakes per responder CPU second', fmt(load.handshakes_per_cpu_s.ours, 0), fmt(load.handshakes_per_cpu_s.upstream, 0), fmtRatio(result.ratios.load_cpu_rate_ours_vs_upstream), '(detail: a core to itself)'],
      ['webtorrent with no encryption (secure: 0): handshakes/s', fmt(load.handshakes_per_s.plaintext, 0), fmt(load.handshakes_per_s.upstream, 0), fmtRatio(result.ratios.load_rate_plaintext_vs_upstream), `the ceiling of any encryption inside webtorrent; ours reaches ${fmtRatio(result.ratios.load_rate_ours_vs_plaintext)} of it`],
      ['encryption CPU ms per handshake (beyond webtorrent\'s own)', fmt(load.encryption_cpu_ms_per_handshake.ours, 2), fmt(load.encryption_cpu_ms_per_handshake.upstream, 2), fmtRatio(result.ratios.load_encryption_cpu_upstream_vs_ours), `webtorrent's own: ${fmt(1000 / (load.handshakes_per_cpu_s.plaintext ?? NaN), 2)} ms per connection`],
      ['completion p50 ms', fmt(load.p50_ms.ours, 0), fmt(load.p50_ms.upstream, 0), '', ''],
      ['completion p99 ms', fmt(load.p99_ms.ours, 0), fmt(load.p99_ms.upstream, 0), '', ''],
      ['responder event-loop delay p99 ms', fmt(loopTarget, 1), fmt(load.loop_delay_p99_ms.upstream, 1), '', '< 20 ms for ours'],
      ['idle process alongside, loop delay p99 ms', fmt(load.idle_loop_delay_p99_ms.ours, 1), fmt(load.idle_loop_delay_p99_ms.upstream, 1), '', 'the machine\'s own noise'],
      ['completed', `${load.completed.ours}/${load.connections}`, `${load.completed.upstream}/${load.connections}`, '', `failures: ours ${JSON.stringify(load.failures.ours)}, upstream ${JSON.stringify(load.failures.upstream)}, no encryption ${JSON.stringify(load.failures.plaintext)} (${load.completed.plaintext}/${load.connections})`]
    ]
    // The loop-delay target is an absolute bound, expressed as a ratio (20 ms / measured) so it fits the table.
    const loopRatio = loopTarget === null ? null : round(20 / Math.max(loopTarget, 0.01), 2)
    return {
      results: { load: { handshakes_per_s: load.handshakes_per_s, p99_ms: load.p99_ms, loop_delay_p99_ms: load.loop_delay_p99_ms, p50_ms: load.p50_ms, idle_loop_delay_p99_ms: load.idle_loop_delay_p99_ms, handshakes_per_cpu_s: load.handshakes_per_cpu_s, completed: load.completed, failures: load.failures, connections: load.connections, addresses: load.addresses, rounds: load.rounds, pinning: load.pinning, budget: load.budget, encryption_cpu_ms_per_handshake: load.encryption_cpu_ms_per_handshake }, detail: { load_runs: result.runs } },
      ratios: { ...result.ratios, load_loop_delay_headroom: loopRatio },
      targets: [
        target('load: handshakes/s ours / upstream PE 2 >= 10x', 'load_rate_ours_vs_upstream', result.ratios.load_rate_ours_vs_upstream, 10),
        target('load: responder event-loop delay p99 < 20 ms (20 / measured >= 1)', 'load_loop_delay_headroom', loopRatio, 1)
      ],
      rows,
      notes: [
        `${load.connections} connections from ${load.addresses} loopback addresses; ours refused by budget (last round): ${JSON.stringify((load.budget as any)?.refused ?? {})}`,
        `${load.rounds} rounds of the three contenders back to back: each figure is its median over rounds, each ratio the median of the rounds' side-by-side ratios`,
        load.pinning ? `responder pinned to CPU ${load.pinning.responder}, initiators to CPU ${load.pinning.initiators} (taskset), for every contender` : 'not pinned (one CPU, or LOAD_PIN=off)',
        'completion = connect() until the responder\'s BitTorrent handshake arrived decrypted (the initiator sends its own as IA)'
      ]
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): number | undefined => {
    const found = process.argv.find(a => a.startsWith(`--${name}=`))
    return found ? Number(found.split('=')[1]) : undefined
  }
  const result = await runLoadBench({ connections: arg('connections'), addresses: arg('addresses'), rounds: arg('rounds'), log: line => console.log(line) })
  console.log(formatTable(['metric', 'ours', 'upstream', '', ''], [
    ['handshakes/s', fmt(result.load.handshakes_per_s.ours, 0), fmt(result.load.handshakes_per_s.upstream, 0), '', ''],
    ['p99 ms', fmt(result.load.p99_ms.ours, 0), fmt(result.load.p99_ms.upstream, 0), '', ''],
    ['loop delay p99 ms', fmt(result.load.loop_delay_p99_ms.ours, 1), fmt(result.load.loop_delay_p99_ms.upstream, 1), '', '']
  ]))
}
