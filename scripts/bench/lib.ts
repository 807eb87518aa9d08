/**
 * What every bench section shares: the section contract, timing helpers, targets and the table.
 *
 * A section measures one area and returns a `SectionReport`: figures for bench-results.json (merged with the
 * other sections' figures by run.ts), rows for the printed table, and the targets it checks. A section never
 * fails the process on a missed target: a benchmark reports, it does not gate.
 */

export interface Target {
  /** Human-readable, e.g. "RC4 ours / native >= 1.0x". */
  name: string
  /** The key under `ratios` this target reads. */
  ratio: string
  /** The measured ratio (null when it could not be measured). */
  value: number | null
  min: number
  /** null when the value is missing. */
  pass: boolean | null
}

/** One printed row: label, then figures already formatted. */
export type Row = [label: string, ours: string, reference: string, ratio: string, note: string]

export interface SectionReport {
  /** Top-level keys for bench-results.json. Object values of the same key are merged across sections. */
  results: Record<string, unknown>
  /** Ratio name -> value; merged into `ratios`. */
  ratios: Record<string, number | null>
  targets: Target[]
  rows: Row[]
  /** Free-form lines printed under the table (caveats, what was measured how). */
  notes?: string[]
}

export interface Section {
  /** Selects the section on the command line: `npm run bench -- core`. */
  name: string
  description: string
  run (): Promise<SectionReport>
}

/** Wall clock (hrtime) in milliseconds. */
export function nowMs (): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/**
 * CPU time (user + system) this process used, in milliseconds. The timed work is CPU-bound on one thread
 * with no I/O, so this is its cost; unlike wall time it does not grow while other processes hold the CPU
 * (the machines this runs on are small and shared). It includes V8's helper threads (GC, compiler), which
 * every contender pays alike. process.threadCpuUsage() would exclude them but needs Node >= 23.9.
 */
export function cpuMs (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

export function median (values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface Timing {
  /** Median CPU milliseconds of one repetition (the figure reported). */
  median: number
  /** Median wall milliseconds of one repetition, for reference. */
  wallMedian: number
}

/**
 * Runs `rep` `warmup` times untimed (JIT, lazy initialisation), then `reps` times timed, and returns the
 * median CPU time (and wall time) of one call of `rep`.
 */
export function medianMs (rep: () => void, { warmup, reps }: { warmup: number, reps: number }): Timing {
  for (let i = 0; i < warmup; i++) rep()
  const cpu: number[] = []
  const wall: number[] = []
  for (let i = 0; i < reps; i++) {
    const w0 = nowMs()
    const c0 = cpuMs()
    rep()
    cpu.push(cpuMs() - c0)
    wall.push(nowMs() - w0)
  }
  return { median: median(cpu), wallMedian: median(wall) }
}

/** Same as `medianMs` for asynchronous repetitions (the process has nothing else to do meanwhile). */
export async function medianMsAsync (rep: () => Promise<void>, { warmup, reps }: { warmup: number, reps: number }): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await rep()
  const cpu: number[] = []
  const wall: number[] = []
  for (let i = 0; i < reps; i++) {
    const w0 = nowMs()
    const c0 = cpuMs()
    await rep()
    cpu.push(cpuMs() - c0)
    wall.push(nowMs() - w0)
  }
  return { median: median(cpu), wallMedian: median(wall) }
}

export function ratio (numerator: number | null | undefined, denominator: number | null | undefined): number | null {
  if (numerator == null || denominator == null || !Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator === 0) return null
  return numerator / denominator
}

export function target (name: string, ratioKey: string, value: number | null, min: number): Target {
  return { name, ratio: ratioKey, value, min, pass: value === null ? null : value >= min }
}

export function round (value: number | null | undefined, digits = 3): number | null {
  if (value == null || !Number.isFinite(value)) return null
  const f = 10 ** digits
  return Math.round(value * f) / f
}

export function fmt (value: number | null | undefined, digits = 1): string {
  if (value == null || !Number.isFinite(value)) return 'n/a'
  return value.toFixed(digits)
}

export function fmtRatio (value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return 'n/a'
  return value >= 100 ? `${value.toFixed(0)}x` : `${value.toFixed(2)}x`
}

/** Left-aligned first column, right-aligned figures. */
export function formatTable (header: Row, rows: Row[]): string {
  const all = [header, ...rows]
  const widths = header.map((_, c) => Math.max(...all.map(r => r[c].length)))
  const line = (r: Row): string => r.map((cell, c) => c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)).join('  ').trimEnd()
  const rule = widths.map(w => '-'.repeat(w)).join('  ')
  return [line(header), rule, ...rows.map(line)].join('\n')
}

/** Merges section results: plain objects under the same key are merged, anything else is replaced. */
export function mergeResults (into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(from)) {
    const existing = into[key]
    if (isPlainObject(existing) && isPlainObject(value)) into[key] = { ...existing, ...value }
    else into[key] = value
  }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
