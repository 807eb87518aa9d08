/**
 * Section `flood`: the handshake budget under attack. A victim (webtorrent-node, `required`, default budget,
 * seeding 16 MiB) gets 10,000 flood connections from 64 loopback addresses (127.0.0.2-33, 127.0.1.1-32),
 * each a valid random 96-byte key plus junk (an answered one costs the victim a DH exchange; the attacker
 * pays none), 1,024 at a time (16 per address). Meanwhile a legitimate client downloads the file from 127.0.0.1 and a prober
 * makes a legitimate MSE handshake every 50 ms from 127.3.0.x (for 5 s before the flood too: the baseline). Every party is its own process
 * (flood-peer.ts); the flooder runs at nice 19, so that what is measured is the victim, not a victim starved
 * by its attacker's CPU on the same small machine. Printed: whether the download completed with the right SHA-256, the legitimate
 * handshakes' p50/p99 latency, the victim's memory (before, peak, after), its DH work (flood connections
 * answered) and refusals by reason.
 *
 *   node --import tsx --conditions=source scripts/bench/flood.ts [--connections=N]
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { buildPeerScript, spawnPeer, type Child } from './child.js'
import { fmt, formatTable, round, type Row, type Section, type SectionReport } from './lib.js'
import type { FlooderReport, ProberReport, VictimReport } from './flood-peer.js'

const RUN_TIMEOUT_MS = 300_000
const FILE_BYTES = 16 * 2 ** 20
const FLOOD_CONCURRENCY = 1024
const PROBE_INTERVAL_MS = 50
const BASELINE_MS = 5000
const FLOODER_NICE = 19

/** The kernel's count of SYNs dropped on a full listen queue (Linux /proc/net/netstat), or null. */
function listenOverflows (): number | null {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter(line => line.startsWith('TcpExt:'))
    const names = lines[0]?.split(/\s+/) ?? []
    const values = lines[1]?.split(/\s+/) ?? []
    const at = names.indexOf('ListenOverflows')
    return at > 0 && values[at] !== undefined ? Number(values[at]) : null
  } catch {
    return null
  }
}

export interface FloodBenchResult {
  flood: {
    connections: number
    addresses: number
    flood_ms: number
    download: { completed: boolean, sha256_ok: boolean, ms: number | null, bytes: number }
    legit_handshake_ms: { p50: number | null, p99: number | null, max: number | null, completed: number, attempts: number, failures: Record<string, number> }
    /** The same before the flood started (same run): what this machine gives without the flood. */
    legit_handshake_baseline_ms: { p50: number | null, p99: number | null, completed: number }
    victim_memory_mib: VictimReport['memory']
    victim_loop_delay_ms: VictimReport['loopDelayMs']
    victim_cpu_ms: number
    /** Flood connections the victim answered (each one DH exchange) and refused unread. */
    flood_answered: number
    flood_refused: number
    flood_connect_failed: number
    /**
     * SYNs the kernel dropped because a listen queue was full during the flood (TcpExtListenOverflows,
     * machine-wide: other processes' listeners count too). Non-zero: the victim did not accept fast enough.
     */
    listen_overflows: number | null
    flooder_nice: number
    budget: unknown
    errors: unknown
  }
}

export async function runFloodBench (options: { connections?: number, log?: (line: string) => void } = {}): Promise<FloodBenchResult> {
  const connections = options.connections ?? 10_000
  const log = options.log ?? (() => {})
  const script = buildPeerScript(new URL('./flood-peer.ts', import.meta.url))
  const spawn = (args: string[]): Child => spawnPeer(script, args, { legacyProvider: true, timeoutMs: RUN_TIMEOUT_MS })
  const victim = spawn(['victim', String(FILE_BYTES)])
  const children: Child[] = [victim]
  try {
    const ready = await victim.message(m => m?.ready as { port: number, infoHash: string, torrentFile: string, sha256: string } | undefined)
    // Legitimate handshakes first alone (the machine's baseline), then under the flood.
    const prober = spawn(['prober', String(ready.port), ready.infoHash, String(PROBE_INTERVAL_MS)])
    children.push(prober)
    await prober.message(m => m?.ready as true | undefined)
    await new Promise(resolve => setTimeout(resolve, BASELINE_MS))
    prober.send('flood')
    const overflowsBefore = listenOverflows()
    // Niced: on a small machine the flood generator's own CPU must not starve the victim, or the figures
    // measure the generator (the victim got ~7% of a core under an un-niced one, under load average ~23).
    const flooder = spawnPeer(script, ['flooder', String(ready.port), String(connections), String(FLOOD_CONCURRENCY)], { legacyProvider: true, timeoutMs: RUN_TIMEOUT_MS, nice: FLOODER_NICE })
    children.push(flooder)
    // The legitimate download starts once the flood is under way.
    await flooder.message(m => m?.progress as number | undefined)
    log('  flood under way (1,000 connections): starting the legitimate download')
    const downloader = spawn(['downloader', String(ready.port), ready.torrentFile])
    children.push(downloader)
    const [flood, download] = await Promise.all([
      flooder.message(m => m?.flooder as FlooderReport | undefined),
      downloader.message(m => m?.downloader as { ms: number, sha256: string } | undefined).catch(() => undefined)
    ])
    const overflows = listenOverflows()
    prober.send('stop')
    const probes = await prober.message(m => m?.prober as ProberReport | undefined)
    victim.send('stop')
    const report = await victim.message(m => m?.victim as VictimReport | undefined)
    const stats = report.mseStats
    return {
      flood: {
        connections,
        addresses: 64,
        flood_ms: round(flood.ms, 0)!,
        download: { completed: download !== undefined, sha256_ok: download?.sha256 === ready.sha256, ms: round(download?.ms, 0), bytes: FILE_BYTES },
        legit_handshake_ms: { p50: round(probes.p50Ms, 1), p99: round(probes.p99Ms, 1), max: round(probes.maxMs, 1), completed: probes.completed, attempts: probes.attempts, failures: probes.failures },
        legit_handshake_baseline_ms: { p50: round(probes.baseline.p50Ms, 1), p99: round(probes.baseline.p99Ms, 1), completed: probes.baseline.completed },
        victim_memory_mib: report.memory,
        victim_loop_delay_ms: report.loopDelayMs,
        victim_cpu_ms: round(report.cpuMs, 0)!,
        flood_answered: flood.answered,
        flood_refused: flood.refused,
        flood_connect_failed: flood.connectFailed,
        listen_overflows: overflows === null || overflowsBefore === null ? null : overflows - overflowsBefore,
        flooder_nice: FLOODER_NICE,
        budget: stats.budget,
        errors: stats.errors
      }
    }
  } finally {
    const grace = new Promise<void>(resolve => setTimeout(resolve, 5000).unref())
    await Promise.race([Promise.all(children.map(async c => await c.exited)), grace])
    for (const child of children) child.kill()
  }
}

function rowsOf ({ flood }: FloodBenchResult): Row[] {
  const mem = flood.victim_memory_mib
  return [
    ['flood connections (64 addresses)', String(flood.connections), `${fmt(flood.flood_ms / 1000, 1)} s`, '', `answered (DH work) ${flood.flood_answered}, refused unread ${flood.flood_refused}, connect failed ${flood.flood_connect_failed}; flooder niced ${flood.flooder_nice}`],
    ['listen queue overflows during the flood', flood.listen_overflows === null ? 'n/a' : String(flood.listen_overflows), '', '', 'SYNs dropped (machine-wide counter)'],
    ['legitimate download (16 MiB, SHA-256)', flood.download.sha256_ok ? 'ok' : 'FAILED', flood.download.ms === null ? 'n/a' : `${fmt(flood.download.ms / 1000, 1)} s`, '', 'started once the flood was under way'],
    ['legitimate handshake p50 / p99 ms', `${fmt(flood.legit_handshake_ms.p50, 0)} / ${fmt(flood.legit_handshake_ms.p99, 0)}`, `${flood.legit_handshake_ms.completed}/${flood.legit_handshake_ms.attempts} completed`, '', 'p99 < 1000 ms'],
    ['legitimate handshake p50 / p99 ms before the flood', `${fmt(flood.legit_handshake_baseline_ms.p50, 0)} / ${fmt(flood.legit_handshake_baseline_ms.p99, 0)}`, `${flood.legit_handshake_baseline_ms.completed} completed`, '', 'same run, same machine'],
    ['victim RSS MiB before / peak / after', `${fmt(mem.rssMiB.before, 0)} / ${fmt(mem.rssMiB.max, 0)} / ${fmt(mem.rssMiB.after, 0)}`, '', '', `heap used ${fmt(mem.heapUsedMiB.before, 0)} / ${fmt(mem.heapUsedMiB.max, 0)} / ${fmt(mem.heapUsedMiB.after, 0)}`],
    ['victim event-loop delay p99 ms', fmt(flood.victim_loop_delay_ms.p99, 1), `CPU ${fmt(flood.victim_cpu_ms / 1000, 1)} s`, '', '']
  ]
}

export const floodSection: Section = {
  name: 'flood',
  description: '10,000 flood connections (valid keys + junk) from 64 addresses while a legitimate download runs',
  async run (): Promise<SectionReport> {
    const result = await runFloodBench({ log: line => console.log(line) })
    const p99 = result.flood.legit_handshake_ms.p99
    return {
      results: { flood: result.flood },
      ratios: {},
      targets: [],
      rows: rowsOf(result),
      notes: [
        `budget after the flood: ${JSON.stringify(result.flood.budget)}`,
        `victim handshake errors: ${JSON.stringify(result.flood.errors)}`,
        `legitimate download ${result.flood.download.sha256_ok ? 'completed, SHA-256 verified' : 'DID NOT complete correctly'}; legitimate handshake p99 ${fmt(p99, 0)} ms (${p99 !== null && p99 < 1000 ? 'under' : 'NOT under'} 1 s)`
      ]
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const found = process.argv.find(a => a.startsWith('--connections='))
  const result = await runFloodBench({ connections: found ? Number(found.split('=')[1]) : undefined, log: line => console.log(line) })
  console.log(formatTable(['measure', 'value', '', '', 'note'], rowsOf(result)))
  console.log(JSON.stringify(result.flood, null, 2))
}
