import { debug, type Output } from './output.js'

/**
 * Tracker and DHT failures, as warnings: webtorrent reports them as `warning` events (torrent discovery's
 * trackers and DHT, web seeds). Each message is shown once. A failed HTTP announce arrives as fetch's bare
 * "fetch failed": its cause says what happened.
 */
const shownWarnings = new WeakMap<Output, Set<string>>()
export function reportWarning (out: Output, warning: unknown): void {
  let message = warning instanceof Error ? warning.message : String(warning)
  const cause = (warning as { cause?: { code?: string, message?: string } } | null)?.cause
  if (message === 'fetch failed') message = `HTTP tracker request failed: ${cause?.message ?? cause?.code ?? 'no answer'}`
  else if (cause?.message) message += `: ${cause.message}`
  debug('warning: %s', message)
  const seen = shownWarnings.get(out) ?? new Set<string>()
  shownWarnings.set(out, seen)
  if (seen.has(message)) return
  seen.add(message)
  out.warn(message)
}
