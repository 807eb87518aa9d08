/**
 * One exchange between OUR client (webtorrent-node, public API only) and one real peer on loopback,
 * with a tcpdump capture of it: who seeds, who dials, our encryption policy, the peer's setting.
 *
 * `runScenario()` only observes (it returns what happened: completion, SHA-256 of the received
 * file, every wire's `wire.mse`, `client.mseStats`, the peer's own view of the connection, and the
 * analysed capture) and always tears down what it started; the tests decide what is right.
 */
import { join } from 'node:path'
import type { Torrent } from 'webtorrent'
import { makeRandomTorrent, type RandomTorrent } from './torrents.js'
import { startLibtorrent, type LtEncLevel, type LtEncPolicy, type LibtorrentHandle } from './peers/libtorrent.js'
import { startTransmission, type TransmissionEncryption, type TransmissionHandle } from './peers/transmission.js'
import { startCtorrent } from './peers/ctorrent.js'
import { startCapture, type CaptureHandle } from './capture.js'
import { describeFlows, type CaptureAnalysis, type DirectionSummary, type FlowKind, type FlowRecord } from './flows.js'
import { dpiVerdicts, type DpiVerdict } from './dpi.js'
import { makeTempDir, removeDir, sha256File, freePort, runningPids, type PeerHandle } from './peers/common.js'
import { TimeoutError, until } from 'test-support'
import { seedWith, downloadWith, addPeerWhenReady, waitDone } from './webtorrent-side.js'
import {
  createOurClient, ourListeningPort, destroyOurClient, WireRecorder,
  type EncryptionPolicy, type MseStats, type WireRecord, type OurClient,
} from './ours-side.js'
import type { RealPeer } from './availability.js'

export const KiB = 1024
export const MiB = 1024 * 1024

/** How our side negotiated a connection (`wire.mse.method`). */
export type Method = 'rc4' | 'plaintext-after-mse' | 'plaintext'

/** The capture label each method must produce. */
export const LABEL_OF_METHOD: Record<Method, FlowKind> = {
  rc4: 'encrypted',
  'plaintext-after-mse': 'mse-plaintext',
  plaintext: 'plaintext',
}

export type OurRole = 'downloads' | 'seeds'
export type Dialer = 'we dial' | 'they dial'

/** How the real peer saw one connection (its own API: libtorrent peer flags, Transmission isEncrypted). */
export interface PeerView {
  endpoint: string
  encryption: 'rc4' | 'plaintext_encrypted' | 'none' | 'encrypted' | 'plaintext'
  /** The transport, where the peer reports it (libtorrent's utp_socket flag). */
  transport?: 'tcp' | 'utp'
}

export interface StartedPeer {
  handle: PeerHandle
  /** The peer's own record of its connections (empty when it has no such API: ctorrent). */
  view(): PeerView[]
}

export interface PeerStartOptions {
  torrent: RandomTorrent
  mode: 'seed' | 'download'
  port: number
  /** Set when the peer must dial us. */
  dialUs?: { address: string; port: number }
}

/** One real client with one encryption setting. */
export interface PeerSetting {
  /** Short name, the start of every test title of this setting: greppable ("libtorrent forced"). */
  name: string
  kind: Exclude<RealPeer, 'tcpdump' | 'dpi' | 'tshark' | 'scapy'>
  /** The peer's own setting names, for titles and the results table. */
  detail: string
  /** Loopback address the peer listens on. */
  address: string
  /**
   * `utp`: both sides with uTP on and the peer with TCP off, so every connection is uTP (our client dials
   * uTP first; the peer can neither accept nor dial TCP). Default `tcp`: TCP only on both sides.
   */
  transport?: 'tcp' | 'utp'

  /** Size of the test content (Transmission: small, its unchoke cycle dominates). */
  size: number
  /**
   * In which of its modes the peer can be made to dial us on loopback: Transmission 3.00 never
   * dials 127.x; ctorrent dials the peers its tracker hands out only while downloading (as a seeder
   * it waits to be dialed).
   */
  dialsWhen: ReadonlyArray<'seed' | 'download'>
  start(o: PeerStartOptions): Promise<StartedPeer>
}

export function libtorrentSetting (name: string, detail: string, enc: { out: LtEncPolicy; in: LtEncPolicy; level: LtEncLevel }, transport: 'tcp' | 'utp' = 'tcp'): PeerSetting {
  return {
    name,
    kind: 'libtorrent',
    detail,
    address: '127.0.0.1',
    transport,
    // uTP moves ~1.4 KB datagrams, not 64 KiB loopback segments: 40 times the packets for tcpdump, which
    // drops some on a busy machine. 512 KiB keeps the capture whole.
    size: transport === 'utp' ? 512 * KiB : 2 * MiB,
    dialsWhen: ['seed', 'download'],
    async start (o) {
      const h: LibtorrentHandle = await startLibtorrent({
        torrent: o.torrent,
        mode: o.mode,
        seedFrom: o.mode === 'seed' ? o.torrent.contentPath : undefined,
        port: o.port,
        outEnc: enc.out,
        inEnc: enc.in,
        level: enc.level,
        utp: transport === 'utp',
        noTcp: transport === 'utp',
        connect: o.dialUs ? [o.dialUs] : [],
      })
      if (o.mode === 'download') {
        // A torrent still checking its (empty) files turns incoming peers away: wait until it is
        // ready, or our first dial is dropped and only webtorrent's 1 s reconnect gets through.
        await until(() => { const s = h.lastStatus(); return !!s && !/checking/.test(s.state) }, 15000, 'libtorrent torrent to be ready', 50)
          .catch(async (err: unknown) => { await h.stop(); throw err })
      }
      return {
        handle: h,
        view: () => [...h.seenPeers().values()].map((p) => ({ endpoint: `${p.ip}:${p.port}`, encryption: p.encryption, transport: p.transport })),
      }
    },
  }
}

export function transmissionSetting (name: string, detail: string, encryption: TransmissionEncryption): PeerSetting {
  return {
    name,
    kind: 'transmission',
    detail,
    address: '127.0.0.1',
    size: 1 * MiB,
    dialsWhen: [],
    async start (o) {
      if (o.dialUs) throw new Error('Transmission 3.00 never dials a 127.x peer: our side must dial it')
      const h: TransmissionHandle = await startTransmission({
        torrent: o.torrent,
        mode: o.mode,
        seedFrom: o.mode === 'seed' ? o.torrent.contentPath : undefined,
        port: o.port,
        encryption,
      })
      return {
        handle: h,
        view: () => [...h.seenPeers().values()].map((p) => ({ endpoint: `${p.address}:${p.port}`, encryption: p.isEncrypted ? 'encrypted' : 'plaintext' })),
      }
    },
  }
}

export function ctorrentSetting (name: string, detail: string): PeerSetting {
  return {
    name,
    kind: 'ctorrent',
    detail,
    address: '127.0.0.2',
    size: 1 * MiB,
    dialsWhen: ['download'],
    async start (o) {
      const h = await startCtorrent({
        torrent: o.torrent,
        mode: o.mode,
        seedFrom: o.mode === 'seed' ? o.torrent.contentPath : undefined,
        address: '127.0.0.2',
        port: o.port,
        // ctorrent dials only what a tracker hands out: its stub tracker hands out us.
        trackerPeers: o.dialUs ? [o.dialUs] : [],
      })
      // Until its first announce ctorrent is still setting up, and a connection then may be
      // dropped without its usual opening (its plaintext handshake): wait for its steady state.
      await until(() => h.announces() >= 1, 10000, 'ctorrent to announce', 20)
        .catch(async (err: unknown) => { await h.stop(); throw err })
      return { handle: h, view: () => [] }
    },
  }
}

export interface ScenarioSpec {
  setting: PeerSetting
  role: OurRole
  dial: Dialer
  policy: EncryptionPolicy
  /** How long to wait for the transfer to complete. */
  boundMs: number
  /** Capture with tcpdump (false when it is unavailable). */
  capture: boolean
  /** Classify every captured flow with nDPI and tshark (needs `capture`; scripts/interop/dpi.ts). */
  dpi?: boolean
}

export interface Observation {
  spec: ScenarioSpec
  completed: boolean
  /** From our dial (or the peer's start, when it dials) to completion, or to the end of the wait. */
  elapsedMs: number
  /** Whole scenario, set-up and teardown included. */
  totalMs: number
  expectedSha256: string
  /** SHA-256 of the file the downloading side wrote (only when completed). */
  receivedSha256?: string
  ourPort: number
  peer: { kind: string; address: string; port: number; pid: number }
  wires: WireRecord[]
  stats: MseStats
  /** Our torrent's counters at the end. */
  ourDownloaded: number
  ourUploaded: number
  peerView: PeerView[]
  analysis?: CaptureAnalysis
  /** nDPI's and tshark's verdict on each captured flow, by `flow.index` (when `spec.dpi`). */
  dpi?: Map<number, DpiVerdict>
  timeline: string[]
  peerLog: string
}

/** Everything one scenario started, torn down in reverse order (processes by PID, in the drivers). */
class Resources {
  private readonly cleanups: Array<() => Promise<void> | void> = []
  private readonly pids: number[] = []
  add (fn: () => Promise<void> | void): void {
    this.cleanups.push(fn)
  }

  pid (pid: number): void {
    this.pids.push(pid)
  }

  async teardown (): Promise<void> {
    const errors: unknown[] = []
    for (const fn of this.cleanups.reverse()) {
      try { await fn() } catch (err) { errors.push(err) }
    }
    const leaked = this.pids.filter((p) => runningPids().includes(p))
    if (leaked.length) errors.push(new Error(`processes still running after teardown: ${leaked.join(', ')}`))
    if (errors.length) throw errors[0]
  }
}

async function settle (p: Promise<unknown>): Promise<boolean> {
  try {
    await p
    return true
  } catch (err) {
    if (err instanceof TimeoutError) return false
    throw err
  }
}

/** Our client, its listening port and its torrent (seeding or downloading), with every wire recorded. */
async function startOurSide (spec: ScenarioSpec, t: RandomTorrent, dir: string, res: Resources): Promise<OurSide> {
  const client: OurClient = createOurClient(spec.policy, spec.setting.transport ?? 'tcp')
  res.add(() => destroyOurClient(client))
  const port = await ourListeningPort(client)
  const downloadDir = join(dir, 'ours')
  const torrent: Torrent = spec.role === 'seeds'
    ? await seedWith(client as never, t.torrentBuffer, t.contentDir)
    : downloadWith(client as never, t.torrentBuffer, downloadDir)
  return { client, port, downloadDir, torrent, recorder: new WireRecorder(torrent) }
}

interface OurSide {
  client: OurClient
  port: number
  downloadDir: string
  torrent: Torrent
  recorder: WireRecorder
}

/** tcpdump on both ports, before the peer even starts. */
async function startScenarioCapture (spec: ScenarioSpec, peerPort: number, ourPort: number, res: Resources): Promise<CaptureHandle> {
  // uTP: UDP too (and TCP, to show that nothing went over TCP), in 8 KiB ring slots (uTP datagrams are
  // ~1.5 KB; a truncated one would be flagged by the flow's truncatedSegments).
  const cap = await startCapture((spec.setting.transport ?? 'tcp') === 'utp'
    ? { ports: [peerPort, ourPort], protocols: ['tcp', 'udp'], snapLength: 8192 }
    : { ports: [peerPort, ourPort] })
  res.pid(cap.pid)
  res.add(async () => { await cap.stop(); cap.dispose() })
  return cap
}

/** The real peer, in the other role; it dials us when the spec says so. */
async function startScenarioPeer (spec: ScenarioSpec, t: RandomTorrent, peerPort: number, ourPort: number, res: Resources): Promise<StartedPeer> {
  const peer = await spec.setting.start({
    torrent: t,
    mode: spec.role === 'seeds' ? 'download' : 'seed',
    port: peerPort,
    dialUs: spec.dial === 'they dial' ? { address: '127.0.0.1', port: ourPort } : undefined,
  })
  res.pid(peer.handle.pid)
  res.add(() => peer.handle.stop())
  return peer
}

/** Dial (if we do) and wait for the downloading side to complete, within the bound. */
async function transfer (spec: ScenarioSpec, ours: OurSide, peer: StartedPeer, tStart: number, mark: (what: string) => void): Promise<{ completed: boolean; elapsedMs: number }> {
  const t0 = spec.dial === 'we dial' ? Date.now() : tStart
  if (spec.dial === 'we dial') {
    await addPeerWhenReady(ours.torrent, peer.handle.address, peer.handle.port)
    mark(`we dialed ${peer.handle.address}:${peer.handle.port}`)
  }
  const completed = await settle(spec.role === 'downloads'
    ? waitDone(ours.torrent, spec.boundMs, 'our download')
    : peer.handle.waitForComplete(spec.boundMs))
  return { completed, elapsedMs: Date.now() - t0 }
}

/** The analysed capture and, when asked, the DPI verdicts on its flows. */
async function analyseScenarioCapture (spec: ScenarioSpec, cap: CaptureHandle | undefined, ports: number[], mark: (what: string) => void): Promise<{ analysis?: CaptureAnalysis; dpi?: Map<number, DpiVerdict> }> {
  if (!cap) return {}
  const analysis = await cap.stopAndAnalyse({ utp: spec.setting.transport === 'utp' })
  mark(`capture: ${analysis.packets} packets, ${analysis.flows.length} flows`)
  if (!spec.dpi) return { analysis }
  const dpi = await dpiVerdicts(cap.file, analysis.flows, ports)
  mark(`DPI: ${[...dpi.values()].map((v) => `nDPI ${v.ndpi} / tshark ${v.tsharkBitTorrent ? 'BitTorrent' : 'none'}`).join(', ')}`)
  return { analysis, dpi }
}

export async function runScenario (spec: ScenarioSpec): Promise<Observation> {
  const { setting, role, dial, policy } = spec
  if (dial === 'they dial' && !setting.dialsWhen.includes(role === 'seeds' ? 'download' : 'seed')) {
    throw new Error(`${setting.name} does not dial us on loopback when it ${role === 'seeds' ? 'downloads' : 'seeds'}`)
  }
  const started = Date.now()
  const timeline: string[] = []
  const mark = (what: string): void => { timeline.push(`${((Date.now() - started) / 1000).toFixed(2)}s ${what}`) }
  const res = new Resources()
  const dir = makeTempDir('client')
  res.add(() => removeDir(dir))
  try {
    const t = await makeRandomTorrent({ dir: join(dir, 'src'), size: setting.size })

    // Our client first: its port is needed by the capture filter and by a peer that dials us.
    const ours = await startOurSide(spec, t, dir, res)
    mark(`our client (${policy}) on port ${ours.port}, ${role === 'seeds' ? 'seeding' : 'downloading'}`)

    // The peer's port is chosen now so that the capture runs before the peer even starts.
    const peerPort = await freePort(setting.address)
    const cap = spec.capture ? await startScenarioCapture(spec, peerPort, ours.port, res) : undefined
    if (cap) mark(`tcpdump pid ${cap.pid}: ${cap.filter}`)

    // A peer that dials us may finish while start() still waits for it to be ready: time from here.
    const tStart = Date.now()
    const peer = await startScenarioPeer(spec, t, peerPort, ours.port, res)
    mark(`${setting.kind} pid ${peer.handle.pid} on ${peer.handle.address}:${peer.handle.port}`)
    if (role === 'downloads') {
      // A seeder is ready once it has checked its copy (ctorrent and Transmission: at start).
      await peer.handle.waitForComplete(20000)
      mark('peer has checked its copy')
    }

    const { completed, elapsedMs } = await transfer(spec, ours, peer, tStart, mark)
    mark(completed ? 'transfer complete' : `no completion within ${spec.boundMs} ms`)
    let receivedSha256: string | undefined
    if (completed) {
      receivedSha256 = await sha256File(role === 'downloads' ? join(ours.downloadDir, t.name) : peer.handle.contentPath())
    }
    const { analysis, dpi } = await analyseScenarioCapture(spec, cap, [peerPort, ours.port], mark)

    const obs: Observation = {
      spec,
      completed,
      elapsedMs,
      totalMs: 0,
      expectedSha256: t.sha256,
      receivedSha256,
      ourPort: ours.port,
      peer: { kind: setting.kind, address: peer.handle.address, port: peer.handle.port, pid: peer.handle.pid },
      wires: ours.recorder.records(),
      stats: ours.client.mseStats,
      ourDownloaded: ours.torrent.downloaded,
      ourUploaded: ours.torrent.uploaded,
      peerView: peer.view(),
      analysis,
      dpi,
      timeline,
      peerLog: peer.handle.logTail(25),
    }
    await res.teardown()
    obs.totalMs = Date.now() - started
    return obs
  } catch (err) {
    await res.teardown().catch(() => undefined)
    if (err instanceof Error) err.message += `\n      timeline:\n        ${timeline.join('\n        ')}`
    throw err
  }
}

// ---------------------------------------------------------------------------------------------
// Reading a capture from our side's point of view

const v4 = (ip: string): string => ip.replace(/^::ffff:/, '')

/** One flow, seen from our client: which way it went, and each direction. */
export interface OurFlow {
  flow: FlowRecord
  /** nDPI's and tshark's verdict, when the scenario ran them. */
  dpi?: DpiVerdict
  weDialed: boolean
  /** The peer's endpoint of the connection (its listen port when we dialed, its source port otherwise). */
  peerEndpoint: string
  fromUs: DirectionSummary
  toUs: DirectionSummary
}

/**
 * Whether a captured flow is our client's or the peer's. The capture filter is by port only, and other
 * programs on this machine use other 127.x addresses with the same port numbers (a port is only unique per
 * address): keep the flows with the peer's listening endpoint or ours (127.0.0.1) on one side. (The peer
 * may dial from another address than the one it listens on: ctorrent listens on 127.0.0.2, dials from
 * 127.0.0.1.)
 */
function isOurs (f: FlowRecord, obs: Observation): boolean {
  return [f.initiator, f.responder].some((e) =>
    (v4(e.ip) === obs.peer.address && e.port === obs.peer.port) || (v4(e.ip) === '127.0.0.1' && e.port === obs.ourPort))
}

export function ourFlows (obs: Observation): OurFlow[] {
  if (!obs.analysis) return []
  return obs.analysis.flows.filter((f) => isOurs(f, obs)).map((f) => {
    // Our client only listens on ourPort; every other flow it is in, it dialed.
    const weDialed = f.responder.port !== obs.ourPort
    const them = weDialed ? f.responder : f.initiator
    return {
      flow: f,
      dpi: obs.dpi?.get(f.index),
      weDialed,
      peerEndpoint: `${v4(them.ip)}:${them.port}`,
      fromUs: weDialed ? f.initiatorToResponder : f.responderToInitiator,
      toUs: weDialed ? f.responderToInitiator : f.initiatorToResponder,
    }
  })
}

export function totalBytes (f: FlowRecord): number {
  return f.initiatorToResponder.bytes + f.responderToInitiator.bytes
}

/** The wire that carried the torrent (most payload bytes), if any. */
export function mainWire (obs: Observation): WireRecord | undefined {
  return obs.wires.reduce<WireRecord | undefined>((best, w) =>
    !best || w.downloaded + w.uploaded > best.downloaded + best.uploaded ? w : best, undefined)
}

/** The capture flow of a wire: same peer endpoint, most bytes. */
export function flowOfWire (obs: Observation, w: WireRecord): OurFlow | undefined {
  const ep = `${v4(w.remoteAddress)}:${w.remotePort}`
  return ourFlows(obs)
    .filter((f) => f.peerEndpoint === ep)
    .reduce<OurFlow | undefined>((best, f) => (!best || totalBytes(f.flow) > totalBytes(best.flow) ? f : best), undefined)
}

/** Human summary of an observation, for failure messages. */
export function describeObservation (obs: Observation): string {
  const lines = [
    `completed=${obs.completed} in ${(obs.elapsedMs / 1000).toFixed(1)} s (scenario ${(obs.totalMs / 1000).toFixed(1)} s)`,
    `sha256 expected ${obs.expectedSha256.slice(0, 16)}… received ${obs.receivedSha256?.slice(0, 16) ?? '-'}…`,
    `our port ${obs.ourPort}; peer ${obs.peer.kind} pid ${obs.peer.pid} on ${obs.peer.address}:${obs.peer.port}`,
    `wires: ${JSON.stringify(obs.wires)}`,
    `mseStats: ${JSON.stringify(obs.stats)}`,
    `our torrent: downloaded ${obs.ourDownloaded} uploaded ${obs.ourUploaded}`,
    `peer's view: ${JSON.stringify(obs.peerView)}`,
    `flows${obs.analysis ? ` (tcpdump: ${obs.analysis.packets} packets, dropped by kernel ${obs.analysis.stats?.droppedByKernel ?? '?'})` : ''}:\n        ${obs.analysis ? describeFlows(obs.analysis.flows).split('\n').join('\n        ') : '(no capture)'}`,
    `timeline:\n        ${obs.timeline.join('\n        ')}`,
    `peer log:\n        ${obs.peerLog.split('\n').join('\n        ')}`,
  ]
  return `\n      ${lines.join('\n      ')}`
}
