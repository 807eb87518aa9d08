/**
 * Section `wire`: 256 MiB of piece data between two bittorrent-protocol Wires over loopback TCP, the two
 * ends in separate processes (wire-peer.ts, forked with `--import tsx --conditions=source`), in three modes:
 *
 * - plaintext:    Wire with PE 0 directly on the socket (the ceiling: no encryption at all).
 * - ours_rc4:     createEncryptedWire (mse-wire) with policy `required`: socket <-> MseStream <-> Wire(PE 0).
 * - ours_aes:     the same between two peers of this project with AES-128-CTR (their PadC/PadD extension).
 * - upstream_rc4: bittorrent-protocol's own PE level 2 (`new Wire(type, 2)` plus the startEncryption /
 *                 setInfoHash dance webtorrent 3.0.21 does), without --openssl-legacy-provider, as a default
 *                 webtorrent user runs it: its RC4 is then the JS fallback (checked and printed).
 *
 * The seed (responder, listening) serves 16 KiB blocks; the leech (initiator) requests them with a fixed
 * window of requests in flight, checks every byte, and times from its first request to its last block
 * (handshakes and process start-up excluded). MB/s = 10^6 bytes per second. Each mode runs RUNS times,
 * interleaved (the order rotates every round) so that a noisy moment hits all modes alike; the median is
 * reported.
 *
 *   node --import tsx --conditions=source scripts/bench/wire.ts [--bytes=N] [--runs=N] [--window=N]
 *     [--modes=plaintext,ours_rc4,upstream_rc4] [--cpu-prof=DIR]
 *
 * In `npm run bench`, register it in scripts/bench/run.ts: `import { wireSection } from './wire.js'` and add
 * `wireSection` to SECTIONS.
 */
import { randomBytes } from 'node:crypto'
import { cpus, loadavg } from 'node:os'
import { pathToFileURL } from 'node:url'
import { buildPeerScript, spawnPeer, type Child } from './child.js'
import { fmt, fmtRatio, formatTable, median, ratio, round, target, type Row, type Section, type SectionReport } from './lib.js'
import type { LeechReport, SeedReport, WireBenchMode } from './wire-peer.js'

/**
 * What is measured. The three headline figures run as their users run them: `ours_rc4` in a process with
 * OpenSSL's RC4 available, as the webtorrent-mse launcher starts it (mse-core then picks OpenSSL's RC4);
 * `upstream_rc4` without it, as a default webtorrent user runs (bittorrent-protocol's JS fallback, with its
 * console warning). Two more rows show the other combinations, for context.
 */
export type WireContender = WireBenchMode | 'ours_rc4_js' | 'upstream_rc4_native'
const CONTENDERS: Record<WireContender, { peerMode: WireBenchMode, legacyProvider: boolean }> = {
  plaintext: { peerMode: 'plaintext', legacyProvider: false },
  ours_rc4: { peerMode: 'ours_rc4', legacyProvider: true },
  ours_aes: { peerMode: 'ours_aes', legacyProvider: true },
  upstream_rc4: { peerMode: 'upstream_rc4', legacyProvider: false },
  ours_rc4_js: { peerMode: 'ours_rc4', legacyProvider: false },
  upstream_rc4_native: { peerMode: 'upstream_rc4', legacyProvider: true }
}
export const WIRE_MODES = Object.keys(CONTENDERS) as WireContender[]

export interface WireBenchOptions {
  /** Bytes of piece data per run (default 256 MiB). */
  bytes?: number
  /** Runs per mode (default 3). */
  runs?: number
  /** 16 KiB requests in flight (default 64, i.e. 1 MiB). */
  window?: number
  /** Write V8 CPU profiles of both ends of every run into this directory. */
  cpuProfDir?: string
  /** Which modes to run (default all three). */
  modes?: readonly WireContender[]
  /** Progress lines (default: none). */
  log?: (line: string) => void
}

export interface WireRun extends LeechReport {
  contender: WireContender
  mbPerS: number
  seedCpuMs: number
  seedMethod: string
}

export interface WireBenchResult {
  wire_mb_s: Record<WireContender, number | null>
  ratios: { wire_ours_vs_plaintext: number | null, wire_ours_vs_upstream: number | null, wire_ours_aes_vs_plaintext: number | null }
  detail: {
    bytes_per_run: number
    runs_per_mode: number
    window_requests: number
    /** Whether OpenSSL RC4 was usable in the children (it is not without --openssl-legacy-provider). */
    native_rc4_available: boolean | null
    runs: WireRun[]
    /**
     * MB/s if each end had a core to itself: bytes / the busier end's CPU time (median of runs). Much less
     * sensitive to other processes on a shared machine than wall time; what the CPU cost of each mode allows.
     */
    cpu_bound_mb_s: Record<WireContender, number | null>
    cpu_bound_ratios: { ours_vs_plaintext: number | null, ours_vs_upstream: number | null }
    /** Median CPU milliseconds per MiB on each end: where the cycles go. */
    cpu_ms_per_mib: Record<WireContender, { leech: number | null, seed: number | null }>
  }
}

const MiB = 1024 * 1024
const RUN_TIMEOUT_MS = 60_000

function spawnWirePeer (script: string, args: string[], legacyProvider: boolean, cpuProfDir: string | undefined): Child {
  const execArgv = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}/${args[0]}-${args[1]}-${Date.now()}`] : []
  return spawnPeer(script, args, { execArgv, legacyProvider, timeoutMs: RUN_TIMEOUT_MS })
}

async function runOnce (script: string, contender: WireContender, bytes: number, window: number, cpuProfDir: string | undefined): Promise<WireRun> {
  const { peerMode: mode, legacyProvider } = CONTENDERS[contender]
  const infoHash = randomBytes(20).toString('hex')
  const seed = spawnWirePeer(script, ['seed', mode, infoHash], legacyProvider, cpuProfDir)
  let leech: Child | undefined
  try {
    const port = await seed.message(m => m?.port as number | undefined)
    leech = spawnWirePeer(script, ['leech', mode, infoHash, String(port), String(bytes), String(window)], legacyProvider, cpuProfDir)
    const report = await leech.message(m => m?.leech as LeechReport | undefined)
    // Ask the seed for its CPU time only now that the transfer is over.
    seed.send('report')
    const seedReport = await seed.message(m => m?.seed as SeedReport | undefined)
    return { ...report, contender, mbPerS: report.bytes / 1e6 / (report.ms / 1000), seedCpuMs: seedReport.cpuMs, seedMethod: seedReport.method }
  } finally {
    // Both exit by themselves once done (writing their CPU profiles, if asked); kill only what hangs.
    const grace = new Promise<void>(resolve => setTimeout(resolve, 5000).unref())
    await Promise.race([Promise.all([seed.exited, leech?.exited]), grace])
    seed.kill()
    leech?.kill()
    await Promise.all([seed.exited, leech?.exited])
  }
}

export async function runWireBench (options: WireBenchOptions = {}): Promise<WireBenchResult> {
  const bytes = options.bytes ?? 256 * MiB
  const runs = options.runs ?? 3
  const window = options.window ?? 64
  const log = options.log ?? (() => {})
  const modes = options.modes ?? WIRE_MODES
  const script = buildPeerScript(new URL('./wire-peer.ts', import.meta.url))
  const all: WireRun[] = []
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(k + round) % modes.length]!
      let run = await runOnce(script, mode, bytes, window, options.cpuProfDir)
      // ~6% of handshakes between two of ours draw a pad too short for the extension and run RC4: that
      // run measured RC4, not AES. Measure again (bounded).
      for (let retry = 0; mode === 'ours_aes' && run.method !== 'aes-128-ctr' && retry < 5; retry++) {
        log(`  round ${round + 1}/${runs} ${mode}: negotiated ${run.method} (pad too short for the extension), measuring again`)
        run = await runOnce(script, mode, bytes, window, options.cpuProfDir)
      }
      if (mode === 'ours_aes' && run.method !== 'aes-128-ctr') throw new Error(`ours_aes: negotiated ${run.method} six times`)
      if (run.mismatches > 0) throw new Error(`${mode}: ${run.mismatches} blocks arrived corrupted`)
      log(`  round ${round + 1}/${runs} ${mode.padEnd(19)} ${fmt(run.mbPerS).padStart(6)} MB/s  (${run.method}/${run.seedMethod}; CPU ms/MiB leech ${fmt(run.cpuMs / (bytes / MiB), 2)}, seed ${fmt(run.seedCpuMs / (bytes / MiB), 2)})`)
      all.push(run)
    }
  }
  const byMode = (contender: WireContender): WireRun[] => all.filter(r => r.contender === contender)
  const mbps = Object.fromEntries(WIRE_MODES.map(m => [m, round(median(byMode(m).map(r => r.mbPerS)), 1)])) as Record<WireContender, number | null>
  const cpuBound = Object.fromEntries(WIRE_MODES.map(m => [m, round(median(byMode(m).map(r => r.bytes / 1e6 / (Math.max(r.cpuMs, r.seedCpuMs) / 1000))), 1)])) as Record<WireContender, number | null>
  return {
    wire_mb_s: mbps,
    ratios: {
      wire_ours_vs_plaintext: round(ratio(mbps.ours_rc4, mbps.plaintext), 3),
      wire_ours_vs_upstream: round(ratio(mbps.ours_rc4, mbps.upstream_rc4), 3),
      wire_ours_aes_vs_plaintext: round(ratio(mbps.ours_aes, mbps.plaintext), 3)
    },
    detail: {
      bytes_per_run: bytes,
      runs_per_mode: runs,
      window_requests: window,
      native_rc4_available: all.length > 0 ? all.some(r => r.nativeRC4) : null,
      runs: all,
      cpu_bound_mb_s: cpuBound,
      cpu_bound_ratios: {
        ours_vs_plaintext: round(ratio(cpuBound.ours_rc4, cpuBound.plaintext), 3),
        ours_vs_upstream: round(ratio(cpuBound.ours_rc4, cpuBound.upstream_rc4), 3)
      },
      cpu_ms_per_mib: Object.fromEntries(WIRE_MODES.map(m => [m, {
        leech: round(median(byMode(m).map(r => r.cpuMs / (r.bytes / MiB))), 3),
        seed: round(median(byMode(m).map(r => r.seedCpuMs / (r.bytes / MiB))), 3)
      }])) as WireBenchResult['detail']['cpu_ms_per_mib']
    }
  }
}

function report (result: WireBenchResult): SectionReport {
  const { wire_mb_s: mbps, ratios } = result
  const native = result.detail.native_rc4_available
  const cpu = result.detail.cpu_bound_mb_s
  const rows: Row[] = [
    ['wire MB/s: plaintext (Wire PE 0, no MSE)', fmt(mbps.plaintext), '', '', 'ceiling'],
    ['wire MB/s: ours_rc4 / plaintext', fmt(mbps.ours_rc4), fmt(mbps.plaintext), fmtRatio(ratios.wire_ours_vs_plaintext), 'target >= 0.85x'],
    ['wire MB/s: ours_aes / plaintext (AES-128-CTR, two webtorrent-mse peers)', fmt(mbps.ours_aes), fmt(mbps.plaintext), fmtRatio(ratios.wire_ours_aes_vs_plaintext), 'target >= 0.9x'],
    ['wire MB/s: ours_rc4 / upstream_rc4 (PE 2)', fmt(mbps.ours_rc4), fmt(mbps.upstream_rc4), fmtRatio(ratios.wire_ours_vs_upstream), 'target >= 2x'],
    ['  ours, JavaScript RC4 (no legacy provider)', fmt(mbps.ours_rc4_js), fmt(mbps.plaintext), fmtRatio(ratio(mbps.ours_rc4_js, mbps.plaintext)), `detail: ${fmtRatio(ratio(mbps.ours_rc4_js, mbps.upstream_rc4))} upstream JS`],
    ['  upstream PE 2 with OpenSSL RC4', fmt(mbps.upstream_rc4_native), fmt(mbps.plaintext), fmtRatio(ratio(mbps.upstream_rc4_native, mbps.plaintext)), `detail: ours is ${fmtRatio(ratio(mbps.ours_rc4, mbps.upstream_rc4_native))} of it`]
  ]
  return {
    results: {
      wire_mb_s: mbps,
      detail: { wire: result.detail }
    },
    ratios,
    targets: [
      target('wire: ours_rc4 / plaintext >= 0.85x', 'wire_ours_vs_plaintext', ratios.wire_ours_vs_plaintext, 0.85),
      target('wire: ours_rc4 / upstream_rc4 >= 2x', 'wire_ours_vs_upstream', ratios.wire_ours_vs_upstream, 2),
      target('wire: ours_aes / plaintext >= 0.9x', 'wire_ours_aes_vs_plaintext', ratios.wire_ours_aes_vs_plaintext, 0.9)
    ],
    rows,
    notes: [
      `${result.detail.bytes_per_run / MiB} MiB per run over 127.0.0.1, seed and leech in separate processes (plain node on the built packages), ` +
        `${result.detail.window_requests} x 16 KiB requests in flight; median of ${result.detail.runs_per_mode} interleaved runs per mode; MB = 10^6 bytes.`,
      'ours_rc4 and upstream_rc4_native ran with --openssl-legacy-provider (as the webtorrent-mse launcher starts; OpenSSL RC4); ' +
        `plaintext, upstream_rc4 and ours_rc4_js without it, as a default webtorrent user runs (JS RC4; OpenSSL RC4 seen in any run: ${String(native)}).`,
      `CPU-bound MB/s (bytes / the busier end's CPU time; robust to other load): ${WIRE_MODES.map(m => `${m} ${fmt(cpu[m])}`).join(', ')}; ` +
        `ours/plaintext ${fmtRatio(result.detail.cpu_bound_ratios.ours_vs_plaintext)}, ours/upstream ${fmtRatio(result.detail.cpu_bound_ratios.ours_vs_upstream)}.`,
      `CPU ms per MiB (median, leech / seed): ${WIRE_MODES.map(m => `${m} ${fmt(result.detail.cpu_ms_per_mib[m].leech, 2)} / ${fmt(result.detail.cpu_ms_per_mib[m].seed, 2)}`).join(', ')}.`
    ]
  }
}

export const wireSection: Section = {
  name: 'wire',
  description: '256 MiB of piece data between two Wires over loopback TCP, separate processes: plaintext, ours (mse-wire), upstream PE 2',
  async run () {
    return report(await runWireBench({ log: line => console.log(line) }))
  }
}

// ---- run alone -------------------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const option = (name: string): string | undefined => process.argv.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const bytes = option('bytes') ? Number(option('bytes')) : undefined
  const runs = option('runs') ? Number(option('runs')) : undefined
  const window = option('window') ? Number(option('window')) : undefined
  const cpuProfDir = option('cpu-prof')
  const modes = option('modes')?.split(',') as WireContender[] | undefined
  if (modes?.some(m => !WIRE_MODES.includes(m))) throw new Error(`--modes: one of ${WIRE_MODES.join(', ')}`)
  if (loadavg()[0]! > cpus().length * 0.5) console.log(`warning: load average ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs: figures will be noisy`)
  console.log(`== wire: ${wireSection.description}`)
  const t0 = Date.now()
  const result = await runWireBench({ bytes, runs, window, cpuProfDir, modes, log: line => console.log(line) })
  const section = report(result)
  console.log(formatTable(['metric', 'mse-wire', 'reference', 'ratio', 'target / note'], section.rows))
  for (const note of section.notes ?? []) console.log(`  note: ${note}`)
  for (const t of section.targets) console.log(`  ${t.pass === null ? 'N/A ' : t.pass ? 'PASS' : 'MISS'}  ${t.name}  (measured ${t.value ?? 'n/a'}x)`)
  console.log(JSON.stringify({ wire_mb_s: result.wire_mb_s, ratios: result.ratios }))
  console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
}
