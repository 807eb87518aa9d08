/**
 * `npm run bench [-- section...]`: runs the bench sections, prints one table per section plus the targets,
 * and writes every figure as JSON to bench-results.json at the repository root (git-ignored).
 *
 *   npm run bench            all sections
 *   npm run bench -- core    only the named section(s)
 *
 * Extension point: a section is a module exporting a `Section` (see lib.ts). Add it to SECTIONS below.
 * Its `results` keys are merged into the top level of bench-results.json (plain objects under the same key
 * are merged, so several sections may contribute to `detail`), its ratios into `ratios`, its targets into
 * `targets`. The planned `wire` section (256 MiB through loopback TCP between processes) would return
 * `results: { wire_mb_s: { plaintext, ours_rc4, ours_aes, upstream_rc4 } }` and its ratios/targets the same way.
 *
 * The file holds the sections of this run only (with `meta.sections` saying which): figures from different
 * runs are never mixed. A missed target is printed as MISS; the exit code stays 0 (a benchmark reports).
 */
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { coreSection } from './core.js'
import { wireSection } from './wire.js'
import { loadSection } from './load.js'
import { floodSection } from './flood.js'
import { formatTable, mergeResults, type Row, type Section, type Target } from './lib.js'

const SECTIONS: Section[] = [
  coreSection,
  wireSection,
  loadSection,
  floodSection
]

const RESULTS_FILE = fileURLToPath(new URL('../../bench-results.json', import.meta.url))

async function main (): Promise<void> {
  const requested = process.argv.slice(2).filter(arg => !arg.startsWith('-'))
  const unknown = requested.filter(name => !SECTIONS.some(s => s.name === name))
  if (unknown.length > 0) {
    console.error(`unknown bench section(s): ${unknown.join(', ')}; available: ${SECTIONS.map(s => s.name).join(', ')}`)
    process.exitCode = 2
    return
  }
  const selected = requested.length > 0 ? SECTIONS.filter(s => requested.includes(s.name)) : SECTIONS

  const results: Record<string, unknown> = {}
  const ratios: Record<string, number | null> = {}
  const targets: Array<Target & { section: string }> = []
  const started = Date.now()
  const loadBefore = loadavg()[0]!
  // Figures are CPU time, which tolerates some load, but a busy machine still skews them (caches, JIT threads).
  if (loadBefore > cpus().length * 0.5) {
    console.log(`warning: load average ${loadBefore.toFixed(2)} on ${cpus().length} CPUs: other processes are busy, figures will be noisy`)
  }

  for (const section of selected) {
    console.log(`\n== ${section.name}: ${section.description}`)
    const t0 = Date.now()
    const report = await section.run()
    mergeResults(results, report.results)
    Object.assign(ratios, report.ratios)
    targets.push(...report.targets.map(t => ({ ...t, section: section.name })))
    const header: Row = ['metric', 'mse-core', 'reference', 'ratio', 'target / note']
    console.log(formatTable(header, report.rows))
    for (const note of report.notes ?? []) console.log(`  note: ${note}`)
    console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  }

  console.log('\n== targets')
  for (const t of targets) {
    const verdict = t.pass === null ? 'N/A ' : t.pass ? 'PASS' : 'MISS'
    const value = t.value === null ? 'n/a' : `${t.value}x`
    console.log(`  ${verdict}  ${t.name}  (measured ${value})`)
  }

  const output = {
    ...results,
    ratios,
    targets,
    meta: {
      sections: selected.map(s => s.name),
      date: new Date(started).toISOString(),
      duration_s: Math.round((Date.now() - started) / 100) / 10,
      node: process.version,
      openssl: process.versions.openssl,
      platform: `${process.platform} ${process.arch}`,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      load_average_1m: { before: Math.round(loadBefore * 100) / 100, after: Math.round(loadavg()[0]! * 100) / 100 },
      clock: 'process CPU time (user + system), medians'
    }
  }
  writeFileSync(RESULTS_FILE, JSON.stringify(output, null, 2) + '\n')
  console.log(`\nwrote ${RESULTS_FILE}`)
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
