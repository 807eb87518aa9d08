/**
 * Which real peers (and tcpdump) this machine has, and the skip-or-fail policy:
 * missing -> `this.skip()` with a clear message, unless MSE_INTEROP=required, then the test fails.
 */
import { findLibtorrentPython, findLibtorrentVersion } from './peers/libtorrent.js'
import { findTransmission, transmissionVersion } from './peers/transmission.js'
import { findCtorrent } from './peers/ctorrent.js'
import { findTcpdump, startCapture } from './capture.js'
import { findNdpiReader } from './dpi.js'
import { findTshark } from './tshark.js'
import { findPythonWith } from './python.js'
import { runQuick } from './peers/common.js'

/**
 * `tcpdump`: capturing on lo, and tshark to read the captures. `dpi`: nDPI's ndpiReader and tshark, the two
 * classifiers that judge every captured flow. `tshark` alone reads recorded captures; `scapy` (python3-scapy)
 * writes the synthetic captures of the capture tests.
 */
export type RealPeer = 'libtorrent' | 'transmission' | 'ctorrent' | 'tcpdump' | 'dpi' | 'tshark' | 'scapy'

export interface Availability {
  available: boolean
  /** Version or path when available; why not, otherwise. */
  detail: string
}

export type PeerAvailability = Record<RealPeer, Availability>

let cached: Promise<PeerAvailability> | undefined

export function interopRequired (): boolean {
  return process.env.MSE_INTEROP === 'required'
}

/** Probe once per process: binaries present, python bindings importable, tcpdump allowed to capture on lo. */
export function peerAvailability (): Promise<PeerAvailability> {
  cached ??= probe()
  return cached
}

/**
 * MSE_INTEROP_PEERS=libtorrent,tcpdump limits the suite to those (the others count as missing),
 * e.g. to run a subset, or to see the skip/fail policy at work on a machine that has them all.
 */
function enabledByEnv (peer: RealPeer): boolean {
  const only = process.env.MSE_INTEROP_PEERS
  if (!only) return true
  return only.split(',').map((s) => s.trim()).includes(peer)
}

async function probe (): Promise<PeerAvailability> {
  const av = await probeInstalled()
  for (const peer of Object.keys(av) as RealPeer[]) {
    if (av[peer].available && !enabledByEnv(peer)) {
      av[peer] = { available: false, detail: `disabled by MSE_INTEROP_PEERS=${process.env.MSE_INTEROP_PEERS}` }
    }
  }
  return av
}

async function probeInstalled (): Promise<PeerAvailability> {
  const py = findLibtorrentPython()
  const tr = findTransmission()
  const ct = findCtorrent()
  const td = findTcpdump()
  const tshark = findTshark()
  const scapy = findPythonWith('scapy')
  let tcpdump: Availability
  if (!td) {
    tcpdump = { available: false, detail: 'tcpdump not installed' }
  } else if (!tshark) {
    tcpdump = { available: false, detail: 'tshark not installed (package tshark): it reads the captures' }
  } else {
    try {
      // Permission to capture is the real question (root or CAP_NET_RAW): try it for a moment.
      const cap = await startCapture({ ports: [9], startTimeoutMs: 5000 })
      await cap.stop()
      cap.dispose()
      const v = runQuick(td, ['--version'])
      tcpdump = { available: true, detail: (v.stdout + v.stderr).split('\n')[0] ?? td }
    } catch (err) {
      tcpdump = { available: false, detail: `tcpdump cannot capture on lo: ${(err as Error).message.split('\n')[0]}` }
    }
  }
  return {
    libtorrent: py
      ? { available: true, detail: `libtorrent ${findLibtorrentVersion()} via ${py}` }
      : { available: false, detail: 'no python3 can import libtorrent (package python3-libtorrent)' },
    transmission: tr
      ? { available: true, detail: transmissionVersion() || tr }
      : { available: false, detail: 'transmission-daemon not installed (package transmission-daemon)' },
    ctorrent: ct
      ? { available: true, detail: ct }
      : { available: false, detail: 'ctorrent not installed (package ctorrent)' },
    tcpdump,
    dpi: dpiAvailability(),
    tshark: tshark
      ? { available: true, detail: tshark }
      : { available: false, detail: 'tshark not installed (package tshark)' },
    scapy: scapy
      ? { available: true, detail: `scapy ${scapy.version} via ${scapy.python}` }
      : { available: false, detail: 'no python3 can import scapy (package python3-scapy)' },
  }
}

function dpiAvailability (): Availability {
  const ndpi = findNdpiReader()
  const tshark = findTshark()
  if (!ndpi || !tshark) {
    const missing = [ndpi ? '' : 'ndpiReader (package libndpi-bin)', tshark ? '' : 'tshark (package tshark)'].filter(Boolean)
    return { available: false, detail: `${missing.join(' and ')} not installed` }
  }
  const version = (out: { stdout: string; stderr: string }): string => (out.stdout + out.stderr).split('\n').find((l) => /\d+\.\d+/.test(l))?.trim() ?? ''
  return { available: true, detail: `${version(runQuick(ndpi, ['-h'], 30000)).replace(/^Welcome to /, '')}; ${version(runQuick(tshark, ['--version'], 30000))}` }
}

/**
 * In a mocha test or hook: skip when `peers` are missing, or fail under MSE_INTEROP=required.
 * Usage: `await requirePeers(this, 'libtorrent', 'tcpdump')`.
 */
export async function requirePeers (ctx: Mocha.Context, ...peers: RealPeer[]): Promise<void> {
  const av = await peerAvailability()
  const missing = peers.filter((p) => !av[p].available)
  if (missing.length === 0) return
  const why = missing.map((p) => `${p}: ${av[p].detail}`).join('; ')
  if (interopRequired()) {
    throw new Error(`MSE_INTEROP=required but a real peer is missing: ${why} (run scripts/install-peers)`)
  }
  process.stderr.write(`      (interop: skipped, missing ${why}; run scripts/install-peers, or set MSE_INTEROP=required to fail instead)\n`)
  ctx.skip()
}

/** Same policy, for code paths that can run without the peer (e.g. capture checks). */
export async function optionalPeer (peer: RealPeer): Promise<boolean> {
  const av = await peerAvailability()
  if (av[peer].available) return true
  if (interopRequired()) throw new Error(`MSE_INTEROP=required but ${peer} is missing: ${av[peer].detail}`)
  process.stderr.write(`      (interop: ${peer} unavailable, its checks are skipped: ${av[peer].detail})\n`)
  return false
}
