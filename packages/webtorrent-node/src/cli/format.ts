/** Human formatting of sizes, speeds and durations (binary units, as torrent clients show them). */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes (bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?'
  if (bytes < 1024) return `${Math.round(bytes)} B`
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${UNITS[unit]}`
}

export function formatSpeed (bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`
}

export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?'
  const seconds = ms / 1000
  if (seconds < 10) return `${seconds.toFixed(2)} s`
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  const whole = Math.round(seconds)
  const h = Math.floor(whole / 3600)
  const m = Math.floor((whole % 3600) / 60)
  const s = whole % 60
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`
  return `${m} min ${String(s).padStart(2, '0')} s`
}

export function formatPercent (fraction: number): string {
  const clamped = Math.min(Math.max(Number.isFinite(fraction) ? fraction : 0, 0), 1)
  return `${(clamped * 100).toFixed(1)}%`
}

/** Bytes per second over a duration; 0 when the duration is 0. */
export function averageSpeed (bytes: number, ms: number): number {
  return ms > 0 ? bytes / (ms / 1000) : 0
}

/** `key  value` rows with the keys padded to one column. */
export function table (rows: Array<[string, string]>, indent = ''): string[] {
  const width = Math.max(0, ...rows.map(([key]) => key.length))
  return rows.map(([key, value]) => `${indent}${key.padEnd(width)}  ${value}`)
}
