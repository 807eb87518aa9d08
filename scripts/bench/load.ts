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
 * Each responder meets the same burst twice. The 1,000 connections come from 250 loopback addresses, 4 each
 * (127.1.0.1 ... 127.1.0.250, then 127.4.x for the second burst): on the Internet, concurrent handshakes come
 * from as many peers, and the budget limits per address.
 * - cold: a fresh process, after 50 handshakes (127.2.0.x): what a client just started meets.
 * - warm: after WARM_UP (3,000) more, in bursts of 500 from addresses of their own (127.10.x, 127.11.x, ...):
 *   a client that has been running, its code compiled by V8. The targets read this one.
 * Four initiator processes serve every burst against one responder; each warms up against a responder of its
 * own first (load-peer.ts). The responder records its event-loop delay (monitorEventLoopDelay, 1 ms
 * resolution: how late a 1 ms timer fires) over each measured burst. With 2 or more CPUs the responder is
 * pinned to CPU 0 and the initiators to the others (taskset), for every contender alike: the rate is the
 * responder's, not what is left of it once the load generator took its share of a small machine.
 *
 *   node --import tsx --conditions=source scripts/bench/load.ts [--connections=N] [--addresses=N] [--rounds=N] [--warm-up=N]
 */
import { cpus } from 'node:os'
import { pathToFileURL } from 'node:url'
import { buildPeerScript, spawnPeer } from './child.js'
import { fmt, fmtRatio, formatTable, median, ratio, round, target, type Row, type Section, type SectionReport } from './lib.js'
import { mergeShares, type InitiatorReport, type InitiatorShare } from './handshake-probe.js'
import type { LoadContender, LoopDelay, ResponderReport } from './load-peer.js'

/** One measured burst of `connections` handshakes: what the initiators timed and what the responder spent. */
export interface LoadWindow {
  initiator: InitiatorReport
  responder: ResponderReport
  /** Event-loop delay of an idle process over the same span: what the machine alone does to a loop. */
  idleLoopDelayMs: LoopDelay
  /** Completed handshakes per second of responder CPU time: the rate with a core to itself. */
  handshakesPerCpuS: number
}

export interface LoadRun {
  contender: LoadContender
  /** The burst a fresh responder process meets (after 50 warm-up handshakes): V8 still compiling its code. */
  cold: LoadWindow
  /** Responder CPU ms per handshake of each warm-up burst between the two windows: its warm-up curve. */
  warmUpCpuMsPerHandshake: number[]
  /** The same burst once the responder has served `warmUp` handshakes more: a client that has been running. */
  warm: LoadWindow
}

export type LoadPhase = 'cold' | 'warm'

export interface LoadBenchOptions {
  connections?: number
  addresses?: number
  /** Rounds of all three contenders, one after the other (default 3): figures are medians over rounds. */
  rounds?: number
  /** Handshakes every responder serves between its cold and its warm burst (default 3,000, see WARM_UP). */
  warmUp?: number
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
/**
 * A torrent client serves connections for hours, and V8 compiles a function to fast code only once it has
 * run often: a fresh process's first thousand handshakes are mostly the compiler's work and code still
 * running in its slow tiers (webtorrent's own code as much as ours). So every responder, whatever the
 * contender, serves WARM_UP more handshakes (bursts of WARM_UP_BURST at once, from addresses used for
 * nothing else) between its cold burst and its warm one. Both bursts are reported; the targets read the
 * warm one, the rate of a client that has been running.
 */
const WARM_UP = 3000
const WARM_UP_BURST = 500
const CONTENDER_ORDER: readonly LoadContender[] = ['ours', 'upstream', 'plaintext']

/** The addresses of each burst: every burst its own, so that no burst meets another's per-address budget. */
const BURST_ADDRESSES = { compile: '127.2', cold: '127.1', warm: '127.4', warmUp: (k: number) => `127.${10 + k}` }

async function runOnce (script: string, contender: LoadContender, connections: number, addresses: number, warmUp: number): Promise<LoadRun> {
  const execArgv = process.env.LOAD_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LOAD_CPU_PROF}`] : []
  const responder = spawnPeer(script, ['responder', contender], { execArgv, legacyProvider: CONTENDERS[contender].legacyProvider, timeoutMs: RUN_TIMEOUT_MS, cpus: PINNING?.responder })
  const idle = spawnPeer(script, ['idle'], { timeoutMs: RUN_TIMEOUT_MS })
  const spawned = [responder, idle]
  try {
    const { port, infoHash } = await responder.message(m => m?.ready as { port: number, infoHash: string } | undefined)
    await idle.message(m => m?.ready as true | undefined)
    const initiators = Array.from({ length: INITIATOR_PROCESSES }, () => spawnPeer(script,
      ['initiator', String(port), infoHash, ENCRYPTION[contender]], { timeoutMs: RUN_TIMEOUT_MS, cpus: PINNING?.initiators, legacyProvider: true }))
    spawned.push(...initiators)
    await Promise.all(initiators.map(async i => await i.message(m => m?.ready as true | undefined)))
    let nextId = 0
    /** One burst of `count` connections at once, shared among the initiator processes. */
    const burst = async (count: number, addressCount: number, firstOctets: string): Promise<InitiatorReport> => {
      const id = nextId++
      const per = Math.ceil(count / INITIATOR_PROCESSES)
      initiators.forEach((initiator, k) => initiator.send({ burst: { id, offset: k * per, count: Math.max(0, Math.min(per, count - k * per)), addresses: addressCount, firstOctets } }))
      const shares = await Promise.all(initiators.map(async i => await i.message(m => m?.id === id ? m.initiator as InitiatorShare : undefined)))
      return mergeShares(shares, count)
    }
    const responderCpuMs = async (): Promise<number> => {
      const id = nextId++
      responder.send({ cpu: id })
      return await responder.message(m => m?.cpu?.id === id ? m.cpu.ms as number : undefined)
    }
    /** A burst with the responder's event-loop delay and CPU, and an idle process's loop delay, recorded. */
    const measured = async (window: LoadPhase, firstOctets: string): Promise<LoadWindow> => {
      responder.send({ start: window })
      idle.send({ start: window })
      const initiator = await burst(connections, addresses, firstOctets)
      responder.send({ stop: window })
      idle.send({ stop: window })
      const report = await responder.message(m => m?.window === window ? m.responder as ResponderReport : undefined)
      const idleLoopDelayMs = await idle.message(m => m?.window === window ? m.idle.loopDelayMs as LoopDelay : undefined)
      return { initiator, responder: report, idleLoopDelayMs, handshakesPerCpuS: initiator.completed / (report.cpuMs / 1000) }
    }
    await burst(50, 50, BURST_ADDRESSES.compile)
    const cold = await measured('cold', BURST_ADDRESSES.cold)
    const warmUpCpuMsPerHandshake: number[] = []
    for (let k = 0, left = warmUp; left > 0; k++, left -= WARM_UP_BURST) {
      const count = Math.min(WARM_UP_BURST, left)
      const before = await responderCpuMs()
      const report = await burst(count, count, BURST_ADDRESSES.warmUp(k))
      warmUpCpuMsPerHandshake.push(((await responderCpuMs()) - before) / Math.max(1, report.completed))
    }
    const warm = await measured('warm', BURST_ADDRESSES.warm)
    return { contender, cold, warmUpCpuMsPerHandshake, warm }
  } finally {
    for (const child of spawned) child.send('exit')
    const grace = new Promise<void>(resolve => setTimeout(resolve, 5000).unref())
    await Promise.race([Promise.all(spawned.map(async c => await c.exited)), grace])
    for (const child of spawned) child.kill()
  }
}

/** One burst's figures for every contender: each the median over the rounds. */
export interface LoadFigures {
  handshakes_per_s: Record<LoadContender, number | null>
  p50_ms: Record<LoadContender, number | null>
  p99_ms: Record<LoadContender, number | null>
  loop_delay_p99_ms: Record<LoadContender, number | null>
  /** The same, in an idle process over the same span (the machine's own noise). */
  idle_loop_delay_p99_ms: Record<LoadContender, number | null>
  /** The responder's longest GC pause over the burst (ms): the loop stops for it whatever the code does. */
  gc_pause_max_ms: Record<LoadContender, number | null>
  handshakes_per_cpu_s: Record<LoadContender, number | null>
  /** The fewest of any round. */
  completed: Record<LoadContender, number>
  /** Summed over the rounds. */
  failures: Record<LoadContender, Record<string, number>>
  /** ours: mseStats.budget after the burst (refused counts by reason), last round. */
  budget: unknown
  /**
   * Responder CPU ms per completed handshake beyond webtorrent's own per-connection work (the plaintext
   * contender's): what the encryption layer costs, ours and upstream's.
   */
  encryption_cpu_ms_per_handshake: { ours: number | null, upstream: number | null }
}

/** Side-by-side ratios of one burst: each taken within a round, then the median over rounds. */
export interface LoadRatios {
  load_rate_ours_vs_upstream: number | null
  load_cpu_rate_ours_vs_upstream: number | null
  /** webtorrent with no encryption at all vs upstream PE 2: the most any encryption inside webtorrent could reach. */
  load_rate_plaintext_vs_upstream: number | null
  /** ours as a share of webtorrent's rate with no encryption. */
  load_rate_ours_vs_plaintext: number | null
  /** The encryption layer's CPU per handshake, upstream's over ours. */
  load_encryption_cpu_upstream_vs_ours: number | null
}

export interface LoadBenchResult {
  /** The warm burst (a responder that has served `warm_up` handshakes), and `cold`: a fresh process's first. */
  load: LoadFigures & {
    cold: LoadFigures
    connections: number
    addresses: number
    rounds: number
    warm_up: number
    /** Responder CPU ms per handshake of each warm-up burst, median over rounds: the warm-up curve. */
    warm_up_cpu_ms_per_handshake: Record<LoadContender, Array<number | null>>
    /** CPUs the responder and the initiators were pinned to (taskset), or null. */
    pinning: { responder: string, initiators: string } | null
  }
  ratios: LoadRatios
  /** The same ratios for the cold burst. */
  coldRatios: LoadRatios
  runs: LoadRun[]
}

export async function runLoadBench (options: LoadBenchOptions = {}): Promise<LoadBenchResult> {
  const connections = options.connections ?? 1000
  const addresses = options.addresses ?? 250
  const rounds = options.rounds ?? DEFAULT_ROUNDS
  const warmUp = options.warmUp ?? WARM_UP
  const log = options.log ?? (() => {})
  const script = buildPeerScript(new URL('./load-peer.ts', import.meta.url))
  const runs: LoadRun[] = []
  for (let n = 1; n <= rounds; n++) {
    for (const contender of CONTENDER_ORDER) {
      const run = await runOnce(script, contender, connections, addresses, warmUp)
      runs.push(run)
      const label = rounds > 1 ? `round ${n}/${rounds} ` : ''
      log(`  ${label}${describeWindow(run.contender, 'cold', run.cold)}`)
      log(`  ${label}${run.contender.padEnd(9)} warm-up, responder CPU ms per handshake by burst of ${WARM_UP_BURST}: ${run.warmUpCpuMsPerHandshake.map(v => fmt(v, 2)).join(', ')}`)
      log(`  ${label}${describeWindow(run.contender, 'warm', run.warm)}`)
    }
  }
  const warm = summarise(runs, 'warm', rounds)
  const cold = summarise(runs, 'cold', rounds)
  const curve = (contender: LoadContender): Array<number | null> => {
    const curves = runs.filter(r => r.contender === contender).map(r => r.warmUpCpuMsPerHandshake)
    return (curves[0] ?? []).map((_, k) => round(median(curves.map(c => c[k]!).filter(Number.isFinite)), 3))
  }
  return {
    load: {
      ...warm.figures,
      cold: cold.figures,
      connections,
      addresses,
      rounds,
      warm_up: warmUp,
      warm_up_cpu_ms_per_handshake: { ours: curve('ours'), upstream: curve('upstream'), plaintext: curve('plaintext') },
      pinning: PINNING ?? null
    },
    ratios: warm.ratios,
    coldRatios: cold.ratios,
    runs
  }
}

/** Medians over rounds of each contender's figures in one burst, and side-by-side ratios (see DEFAULT_ROUNDS). */
function summarise (runs: LoadRun[], phase: LoadPhase, rounds: number): { figures: LoadFigures, ratios: LoadRatios } {
  const windowsOf = (contender: LoadContender): LoadWindow[] => runs.filter(r => r.contender === contender).map(r => r[phase])
  /** A figure of each contender: the median over its rounds. */
  const each = (pick: (window: LoadWindow) => number | null): Record<LoadContender, number | null> => {
    const of = (contender: LoadContender): number | null => {
      const values = windowsOf(contender).map(pick).filter((v): v is number => v !== null && Number.isFinite(v))
      return values.length > 0 ? median(values) : null
    }
    return { ours: of('ours'), upstream: of('upstream'), plaintext: of('plaintext') }
  }
  /** A ratio between two contenders: taken within each round (side by side), then the median over rounds. */
  const sideBySide = (pick: (sameRound: Record<LoadContender, LoadWindow>) => number | null): number | null => {
    const values: number[] = []
    for (let k = 0; k < rounds; k++) {
      const sameRound = { ours: windowsOf('ours')[k]!, upstream: windowsOf('upstream')[k]!, plaintext: windowsOf('plaintext')[k]! }
      const value = pick(sameRound)
      if (value !== null && Number.isFinite(value)) values.push(value)
    }
    return values.length > 0 ? median(values) : null
  }
  const cpuMsPerHandshake = (window: LoadWindow): number | null => window.initiator.completed > 0 ? window.responder.cpuMs / window.initiator.completed : null
  /** CPU ms per handshake beyond the plaintext contender's, in the same round. */
  const encryptionCpu = (sameRound: Record<LoadContender, LoadWindow>, contender: LoadContender): number | null => {
    const total = cpuMsPerHandshake(sameRound[contender])
    const floor = cpuMsPerHandshake(sameRound.plaintext)
    return total === null || floor === null ? null : total - floor
  }
  const rate = (window: LoadWindow): number => window.initiator.handshakesPerS
  const failures = (contender: LoadContender): Record<string, number> => {
    const merged: Record<string, number> = {}
    for (const window of windowsOf(contender)) for (const [cause, n] of Object.entries(window.initiator.failures)) merged[cause] = (merged[cause] ?? 0) + n
    return merged
  }
  const rounded = (values: Record<LoadContender, number | null>, digits: number): Record<LoadContender, number | null> =>
    ({ ours: round(values.ours, digits), upstream: round(values.upstream, digits), plaintext: round(values.plaintext, digits) })
  const completed = (contender: LoadContender): number => Math.min(...windowsOf(contender).map(w => w.initiator.completed))
  return {
    figures: {
      handshakes_per_s: rounded(each(rate), 1),
      p50_ms: rounded(each(w => w.initiator.p50Ms), 1),
      p99_ms: rounded(each(w => w.initiator.p99Ms), 1),
      loop_delay_p99_ms: rounded(each(w => w.responder.loopDelayMs.p99), 2),
      idle_loop_delay_p99_ms: rounded(each(w => w.idleLoopDelayMs.p99), 2),
      gc_pause_max_ms: rounded(each(w => w.responder.gcPauses.maxMs), 1),
      handshakes_per_cpu_s: rounded(each(w => w.handshakesPerCpuS), 1),
      completed: { ours: completed('ours'), upstream: completed('upstream'), plaintext: completed('plaintext') },
      failures: { ours: failures('ours'), upstream: failures('upstream'), plaintext: failures('plaintext') },
      budget: windowsOf('ours').at(-1)?.responder.budget,
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
    }
  }
}

function describeWindow (contender: LoadContender, phase: LoadPhase, window: LoadWindow): string {
  const { initiator: i, responder: r } = window
  return `${contender.padEnd(9)} ${phase}: ${i.completed}/${i.count} in ${fmt(i.elapsedMs, 0)} ms: ${fmt(i.handshakesPerS, 0)}/s, p50 ${fmt(i.p50Ms, 0)} ms, p99 ${fmt(i.p99Ms, 0)} ms; ` +
    `loop delay p99 ${fmt(r.loopDelayMs.p99, 1)} ms (max ${fmt(r.loopDelayMs.max, 0)}; idle process alongside: p99 ${fmt(window.idleLoopDelayMs.p99, 1)}); ` +
    `GC pauses ${r.gcPauses.count}, ${fmt(r.gcPauses.totalMs, 0)} ms in all, longest ${fmt(r.gcPauses.maxMs, 1)} ms; ` +
    `responder CPU ${fmt(r.cpuMs, 0)} ms (${fmt(window.handshakesPerCpuS, 0)} handshakes per CPU s), initiators' CPU ${fmt(i.cpuMs, 0)} ms; ` +
    `failures ${JSON.stringify(i.failures)}${r.budget ? `; budget ${JSON.stringify(r.budget)}` : ''}`
}

export const loadSection: Section = {
  name: 'load',
  description: '1,000 concurrent incoming MSE handshakes: ours (default budget) vs upstream secure: 2, and webtorrent with no encryption as the floor, responders in their own processes, fresh and warmed up',
  async run (): Promise<SectionReport> {
    const result = await runLoadBench({ log: line => console.log(line) })
    const { load, ratios, coldRatios } = result
    const { cold } = load
    // The loop-delay target must hold for ours in both bursts: it reads the worse of the two.
    const loopDelays = [load.loop_delay_p99_ms.ours, cold.loop_delay_p99_ms.ours].filter((v): v is number => v !== null)
    const worstLoopDelay = loopDelays.length > 0 ? Math.max(...loopDelays) : null
    const curve = (contender: LoadContender): string => load.warm_up_cpu_ms_per_handshake[contender].map(v => fmt(v, 2)).join(' → ')
    const rows: Row[] = [
      ['handshakes/s (1,000 at once, warm responder)', fmt(load.handshakes_per_s.ours, 0), `${fmt(load.handshakes_per_s.upstream, 0)} upstream PE 2`, fmtRatio(ratios.load_rate_ours_vs_upstream), '>= 10x'],
      ['the same, a fresh responder process (cold)', fmt(cold.handshakes_per_s.ours, 0), fmt(cold.handshakes_per_s.upstream, 0), fmtRatio(coldRatios.load_rate_ours_vs_upstream), '(detail: V8 still compiling)'],
      ['handshakes per responder CPU second, warm / cold', `${fmt(load.handshakes_per_cpu_s.ours, 0)} / ${fmt(cold.handshakes_per_cpu_s.ours, 0)}`, `${fmt(load.handshakes_per_cpu_s.upstream, 0)} / ${fmt(cold.handshakes_per_cpu_s.upstream, 0)}`, `${fmtRatio(ratios.load_cpu_rate_ours_vs_upstream)} / ${fmtRatio(coldRatios.load_cpu_rate_ours_vs_upstream)}`, '(detail: a core to itself)'],
      ['webtorrent with no encryption (secure: 0): handshakes/s, warm', fmt(load.handshakes_per_s.plaintext, 0), fmt(load.handshakes_per_s.upstream, 0), fmtRatio(ratios.load_rate_plaintext_vs_upstream), `the ceiling of any encryption inside webtorrent; ours reaches ${fmtRatio(ratios.load_rate_ours_vs_plaintext)} of it`],
      ['encryption CPU ms per handshake (beyond webtorrent\'s own), warm', fmt(load.encryption_cpu_ms_per_handshake.ours, 2), fmt(load.encryption_cpu_ms_per_handshake.upstream, 2), fmtRatio(ratios.load_encryption_cpu_upstream_vs_ours), `webtorrent's own: ${fmt(1000 / (load.handshakes_per_cpu_s.plaintext ?? NaN), 2)} ms per connection (cold: ${fmt(1000 / (cold.handshakes_per_cpu_s.plaintext ?? NaN), 2)})`],
      ['completion p50 / p99 ms, warm', `${fmt(load.p50_ms.ours, 0)} / ${fmt(load.p99_ms.ours, 0)}`, `${fmt(load.p50_ms.upstream, 0)} / ${fmt(load.p99_ms.upstream, 0)}`, '', ''],
      ['completion p50 / p99 ms, cold', `${fmt(cold.p50_ms.ours, 0)} / ${fmt(cold.p99_ms.ours, 0)}`, `${fmt(cold.p50_ms.upstream, 0)} / ${fmt(cold.p99_ms.upstream, 0)}`, '', ''],
      ['responder event-loop delay p99 ms, warm / cold', `${fmt(load.loop_delay_p99_ms.ours, 1)} / ${fmt(cold.loop_delay_p99_ms.ours, 1)}`, `${fmt(load.loop_delay_p99_ms.upstream, 1)} / ${fmt(cold.loop_delay_p99_ms.upstream, 1)}`, '', '< 20 ms for ours, both'],
      ['responder\'s longest GC pause ms, warm / cold', `${fmt(load.gc_pause_max_ms.ours, 1)} / ${fmt(cold.gc_pause_max_ms.ours, 1)}`, `${fmt(load.gc_pause_max_ms.upstream, 1)} / ${fmt(cold.gc_pause_max_ms.upstream, 1)}`, '', `no encryption: ${fmt(load.gc_pause_max_ms.plaintext, 1)} / ${fmt(cold.gc_pause_max_ms.plaintext, 1)}`],
      ['idle process alongside, loop delay p99 ms, warm / cold', `${fmt(load.idle_loop_delay_p99_ms.ours, 1)} / ${fmt(cold.idle_loop_delay_p99_ms.ours, 1)}`, `${fmt(load.idle_loop_delay_p99_ms.upstream, 1)} / ${fmt(cold.idle_loop_delay_p99_ms.upstream, 1)}`, '', 'the machine\'s own noise'],
      ['completed, warm / cold', `${load.completed.ours} / ${cold.completed.ours} of ${load.connections}`, `${load.completed.upstream} / ${cold.completed.upstream}`, '', `failures warm: ours ${JSON.stringify(load.failures.ours)}, upstream ${JSON.stringify(load.failures.upstream)}, no encryption ${JSON.stringify(load.failures.plaintext)}; cold: ${JSON.stringify(cold.failures.ours)}, ${JSON.stringify(cold.failures.upstream)}, ${JSON.stringify(cold.failures.plaintext)}`]
    ]
    // The loop-delay target is an absolute bound, expressed as a ratio (20 ms / measured) so it fits the table.
    const loopRatio = worstLoopDelay === null ? null : round(20 / Math.max(worstLoopDelay, 0.01), 2)
    return {
      results: { load, detail: { load_runs: result.runs } },
      ratios: { ...ratios, ...suffixed(coldRatios, '_cold'), load_loop_delay_headroom: loopRatio },
      targets: [
        target('load: handshakes/s ours / upstream PE 2 >= 10x (warm responders)', 'load_rate_ours_vs_upstream', ratios.load_rate_ours_vs_upstream, 10),
        target('load: responder event-loop delay p99 < 20 ms, warm and cold (20 / worse >= 1)', 'load_loop_delay_headroom', loopRatio, 1)
      ],
      rows,
      notes: [
        `${load.connections} connections from ${load.addresses} loopback addresses; ours refused by budget (warm burst, last round): ${JSON.stringify((load.budget as any)?.refused ?? {})}`,
        `each responder: 50 handshakes, the cold burst, ${load.warm_up} more in bursts of ${WARM_UP_BURST} (fresh addresses), then the warm burst; responder CPU ms per handshake over the warm-up: ours ${curve('ours')}; upstream ${curve('upstream')}; no encryption ${curve('plaintext')}`,
        `${load.rounds} rounds of the three contenders back to back: each figure is its median over rounds, each ratio the median of the rounds' side-by-side ratios`,
        load.pinning ? `responder pinned to CPU ${load.pinning.responder}, initiators to CPU ${load.pinning.initiators} (taskset), for every contender` : 'not pinned (one CPU, or LOAD_PIN=off)',
        'completion = connect() until the responder\'s BitTorrent handshake arrived decrypted (the initiator sends its own as IA)'
      ]
    }
  }
}

/** `{a: 1}` → `{a_cold: 1}`: the cold burst's ratios next to the warm ones in bench-results.json's flat `ratios`. */
function suffixed (ratios: LoadRatios, suffix: string): Record<string, number | null> {
  return Object.fromEntries(Object.entries(ratios).map(([key, value]) => [`${key}${suffix}`, value]))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): number | undefined => {
    const found = process.argv.find(a => a.startsWith(`--${name}=`))
    return found ? Number(found.split('=')[1]) : undefined
  }
  const result = await runLoadBench({ connections: arg('connections'), addresses: arg('addresses'), rounds: arg('rounds'), warmUp: arg('warm-up'), log: line => console.log(line) })
  const { load, ratios, coldRatios } = result
  console.log(formatTable(['metric', 'ours', 'upstream', 'ratio', ''], [
    ['handshakes/s, warm', fmt(load.handshakes_per_s.ours, 0), fmt(load.handshakes_per_s.upstream, 0), fmtRatio(ratios.load_rate_ours_vs_upstream), ''],
    ['handshakes/s, cold', fmt(load.cold.handshakes_per_s.ours, 0), fmt(load.cold.handshakes_per_s.upstream, 0), fmtRatio(coldRatios.load_rate_ours_vs_upstream), ''],
    ['p99 ms, warm / cold', `${fmt(load.p99_ms.ours, 0)} / ${fmt(load.cold.p99_ms.ours, 0)}`, `${fmt(load.p99_ms.upstream, 0)} / ${fmt(load.cold.p99_ms.upstream, 0)}`, '', ''],
    ['loop delay p99 ms, warm / cold', `${fmt(load.loop_delay_p99_ms.ours, 1)} / ${fmt(load.cold.loop_delay_p99_ms.ours, 1)}`, `${fmt(load.loop_delay_p99_ms.upstream, 1)} / ${fmt(load.cold.loop_delay_p99_ms.upstream, 1)}`, '', '']
  ]))
}
