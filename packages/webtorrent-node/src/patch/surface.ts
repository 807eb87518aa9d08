import { EventEmitter } from 'node:events'
import UpstreamWebTorrent from 'webtorrent'
import Peer from 'webtorrent/lib/peer.js'
import ConnPool from 'webtorrent/lib/conn-pool.js'
import Torrent from 'webtorrent/lib/torrent.js'
import { assertCompatibleBittorrentProtocol } from 'mse-wire'
import { sideTable } from '../side-tables.js'
import type { UpstreamModules, UpstreamPeer, UpstreamWire } from './upstream-types.js'

export type { UpstreamModules } from './upstream-types.js'

/**
 * Every member of webtorrent (and of the bittorrent-protocol Wire it builds) that the MSE patch touches:
 * the patch's whole contract with upstream, in one table. A future webtorrent that moves one of them must
 * fail loudly, naming it, not silently run without encryption:
 *
 * - `start-up` rows are checked by `assertCompatibleWebTorrent` before anything is patched: classes and
 *   prototype members by their type, onConnect by running it on a probe object (it must read `this.conn`
 *   and `this.secure` and leave a Wire in `this.wire`), the Wire's members on the Wire it built.
 * - `first instance` rows are fields upstream's constructors set; they are checked on the first object of that
 *   kind the patch meets (a client when its MSE state is attached, a torrent when it is added, a peer or a
 *   connection pool when a connection arrives). That object is refused with the same error.
 * - `not checked` rows are webtorrent's public API (events), or hints and tunings whose absence loses only
 *   that hint or tuning (logged under `mse:pool`).
 *
 * Access: `wrap` replaces a method (restored by `uninstallMsePatches`; per-object wraps go with the
 * object), `call` calls it, `read` / `write` a field, `listen` an event.
 */
export interface SurfaceMember {
  module: 'webtorrent' | 'webtorrent/lib/peer.js' | 'webtorrent/lib/conn-pool.js' | 'webtorrent/lib/torrent.js' | 'bittorrent-protocol' | 'node:net'
  member: string
  access: Array<'wrap' | 'call' | 'read' | 'write' | 'listen'>
  why: string
  checked: 'start-up' | 'first instance' | 'not checked'
  /** `start-up` rows: whether this copy of webtorrent has the member as the patch expects it. */
  present?: (found: StartUpView) => boolean
  /** `first instance` rows: the kind of object, and the field its constructor sets. */
  instance?: { kind: InstanceKind, field: string }
  /** What the error says when the check fails (default: the member and its file). */
  problem?: string
}

/** What start-up checks look at: one copy's modules, and what its onConnect did on a probe. */
export interface StartUpView {
  modules: Partial<UpstreamModules>
  /** The Wire upstream's onConnect built on the probe (undefined when it built none, or has no onConnect). */
  probe: () => OnConnectProbe
}

export type InstanceKind = 'client' | 'torrent' | 'peer' | 'pool'

const isFunction = (value: unknown): boolean => typeof value === 'function'
/** Checks that need the probe's Wire pass when there is none: the onConnect row reports that. */
const onWire = (check: (wire: UpstreamWire) => boolean) => (found: StartUpView): boolean => {
  const { wire } = found.probe()
  return wire === undefined || check(wire)
}
const peerField = (field: string): SurfaceMember['instance'] => ({ kind: 'peer', field })

export const SURFACE: readonly SurfaceMember[] = [
  { module: 'webtorrent', member: 'WebTorrent (default export)', access: ['read'], checked: 'start-up', why: 'webtorrent-node\'s class extends it; register mode patches it', present: ({ modules }) => isFunction(modules.WebTorrent), problem: 'webtorrent default export is not a class' },
  { module: 'webtorrent', member: 'WebTorrent.prototype.add', access: ['wrap'], checked: 'start-up', why: 'every torrent (seed goes through it): the SKEY map, tracker hints, MSE evidence', present: ({ modules }) => isFunction(modules.WebTorrent?.prototype?.add) },
  { module: 'webtorrent', member: 'WebTorrent.prototype.seed', access: ['call'], checked: 'start-up', why: 'must reach add, so seeded torrents are answered too', present: ({ modules }) => isFunction(modules.WebTorrent?.prototype?.seed) },
  { module: 'webtorrent', member: 'WebTorrent.prototype.mseStats', access: ['write'], checked: 'start-up', why: 'register mode: a getter on upstream\'s class, as webtorrent-node\'s class has', present: ({ modules }) => freeOrOurs(modules.WebTorrent?.prototype, 'mseStats'), problem: 'WebTorrent.prototype.mseStats is upstream\'s own' },
  { module: 'webtorrent', member: 'client.torrents', access: ['read'], checked: 'first instance', instance: { kind: 'client', field: 'torrents' }, why: 'torrents added before the MSE state attached; a closing duplicate keeps its SKEY' },
  { module: 'webtorrent', member: 'client.secure', access: ['read'], checked: 'first instance', instance: { kind: 'client', field: 'secure' }, why: 'register mode maps the program\'s PE level to a policy; webtorrent-node\'s class passes 0' },
  { module: 'webtorrent', member: 'client.destroyed', access: ['read'], checked: 'first instance', instance: { kind: 'client', field: 'destroyed' }, why: 'no new state, no reports for a destroyed client' },
  { module: 'webtorrent/lib/peer.js', member: 'Peer.prototype.onConnect', access: ['wrap'], checked: 'start-up', why: 'the patch puts its MseStream in this.conn before onConnect builds the Wire over it', present: ({ modules }) => isFunction(modules.Peer?.prototype?.onConnect) },
  { module: 'webtorrent/lib/peer.js', member: 'Peer.prototype.onConnect builds `new Wire(this.type, this.secure)` over `this.conn`', access: ['call'], checked: 'start-up', why: 'run on a probe with secure 0: it must read this.conn and leave a Wire with its own PE off (wire._peEnabled 0) in this.wire', present: found => found.probe().buildsWire, problem: 'Peer.prototype.onConnect no longer creates `new Wire(this.type, this.secure)` over `this.conn`' },
  { module: 'webtorrent/lib/peer.js', member: 'Peer.prototype.destroy', access: ['call'], checked: 'start-up', why: 'drops a failed dial before its redial', present: ({ modules }) => isFunction(modules.Peer?.prototype?.destroy) },
  { module: 'webtorrent/lib/peer.js', member: 'Peer.createTCPIncomingPeer', access: ['read'], checked: 'start-up', why: 'the TCP peer types the patch encrypts exist', present: ({ modules }) => isFunction(modules.Peer?.createTCPIncomingPeer) },
  { module: 'webtorrent/lib/peer.js', member: 'Peer.createTCPOutgoingPeer', access: ['read'], checked: 'start-up', why: 'the TCP peer types the patch encrypts exist', present: ({ modules }) => isFunction(modules.Peer?.createTCPOutgoingPeer) },
  { module: 'webtorrent/lib/peer.js', member: 'peer.mse', access: ['write'], checked: 'start-up', why: 'public: how the connection was made', present: ({ modules }) => !modules.Peer?.prototype || !('mse' in modules.Peer.prototype), problem: 'Peer.prototype.mse is upstream\'s own' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.type', access: ['read'], checked: 'first instance', instance: peerField('type'), why: 'stream peers only (not WebRTC, web seeds); initiator or responder; the transport of a redial' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.conn', access: ['read', 'write'], checked: 'first instance', instance: peerField('conn'), why: 'the raw socket in, the MseStream out' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.secure', access: ['write'], checked: 'first instance', instance: peerField('secure'), why: '0: the Wire must not run bittorrent-protocol\'s own PE over ours' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.addr', access: ['read'], checked: 'first instance', instance: peerField('addr'), why: 'the address an outgoing dial went to: the peer memory\'s key' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.swarm', access: ['read'], checked: 'first instance', instance: peerField('swarm'), why: 'the torrent of an outgoing dial: its info hash (SKEY), its client, the redial' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.source', access: ['read'], checked: 'first instance', instance: peerField('source'), why: 'carried over to the redial' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.retries', access: ['read', 'write'], checked: 'first instance', instance: peerField('retries'), why: 'carried over to the redial, so webtorrent\'s back-off goes on' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.destroyed', access: ['read'], checked: 'first instance', instance: peerField('destroyed'), why: 'a destroyed peer is left to upstream' },
  { module: 'webtorrent/lib/peer.js', member: 'peer.wire', access: ['read'], checked: 'first instance', instance: peerField('wire'), why: 'the Wire onConnect built' },
  { module: 'bittorrent-protocol', member: 'wire.extendedHandshake', access: ['write'], checked: 'start-up', why: 'BEP 10 `e: 1`: we prefer encrypted connections', present: onWire(wire => typeof wire.extendedHandshake === 'object' && wire.extendedHandshake !== null) },
  { module: 'bittorrent-protocol', member: 'wire.prependOnceListener(\'handshake\')', access: ['listen'], checked: 'start-up', why: 'a plaintext dial was answered: counted before webtorrent announces the wire', present: onWire(wire => isFunction(wire.prependOnceListener)) },
  { module: 'bittorrent-protocol', member: 'wire.mse', access: ['write'], checked: 'start-up', why: 'public: how the connection was made', present: onWire(wire => !('mse' in wire)), problem: 'wire.mse is bittorrent-protocol\'s own' },
  { module: 'bittorrent-protocol', member: 'wire \'extended\' event, wire.peerExtendedHandshake, wire.ut_pex \'peer\' event', access: ['listen', 'read'], checked: 'not checked', why: 'MSE evidence: the peer\'s `e`, ut_pex `added.f` (patch/evidence.ts; without them only that hint is lost)' },
  { module: 'webtorrent/lib/conn-pool.js', member: 'ConnPool.prototype._onConnection', access: ['wrap', 'call'], checked: 'start-up', why: 'every incoming connection: the handshake budget, then our handshake on the raw socket; called with the decrypted stream once it succeeded (patch/incoming.ts)', present: ({ modules }) => isFunction(modules.ConnPool?.prototype?._onConnection) },
  { module: 'webtorrent/lib/conn-pool.js', member: 'pool._client', access: ['read'], checked: 'first instance', instance: { kind: 'pool', field: '_client' }, why: 'the client (and so the MSE state) of an incoming connection; none any more: the handshake\'s stream is dropped' },
  { module: 'webtorrent/lib/conn-pool.js', member: 'pool._pendingConns', access: ['read', 'write'], checked: 'first instance', instance: { kind: 'pool', field: '_pendingConns' }, why: 'the raw socket stays in it while our handshake runs (and a failed one lingers), so a destroyed client closes it' },
  { module: 'webtorrent', member: 'client._connPool', access: ['read'], checked: 'not checked', why: 'its TCP listener gets a larger backlog (patch/listen-backlog.ts); without it the backlog stays Node\'s 511' },
  { module: 'webtorrent/lib/conn-pool.js', member: 'pool.tcpServer', access: ['read'], checked: 'not checked', why: 'the TCP listener whose backlog the patch raises; without it the backlog stays Node\'s 511' },
  { module: 'node:net', member: 'server._handle.listen(backlog)', access: ['call'], checked: 'not checked', why: 'what Node\'s server.listen calls; called again, listen(2) updates the backlog of a listening socket. Without it (or when it fails) the backlog stays 511' },
  { module: 'webtorrent/lib/torrent.js', member: 'Torrent.prototype._addPeer', access: ['call'], checked: 'start-up', why: 'the one redial of a failed outgoing connection (other mode, or fresh keys), over the same transport', present: ({ modules }) => isFunction(modules.Torrent?.prototype?._addPeer) },
  { module: 'webtorrent/lib/torrent.js', member: 'Torrent.prototype._startDiscovery', access: ['wrap'], checked: 'start-up', why: 'per torrent: creates the tracker client whose responses carry crypto_flags', present: ({ modules }) => isFunction(modules.Torrent?.prototype?._startDiscovery) },
  { module: 'webtorrent/lib/torrent.js', member: 'torrent._getAnnounceOpts', access: ['wrap'], checked: 'first instance', instance: { kind: 'torrent', field: '_getAnnounceOpts' }, why: 'per torrent: supportcrypto / requirecrypto in every announce' },
  { module: 'webtorrent/lib/torrent.js', member: 'torrent.client', access: ['read'], checked: 'first instance', instance: { kind: 'torrent', field: 'client' }, why: 'the client of an outgoing dial, and so its MSE state' },
  { module: 'webtorrent/lib/torrent.js', member: 'torrent.destroyed', access: ['read'], checked: 'first instance', instance: { kind: 'torrent', field: 'destroyed' }, why: 'no redial into a destroyed torrent' },
  { module: 'webtorrent/lib/torrent.js', member: 'torrent.infoHash, \'infoHash\' and \'close\' events', access: ['read', 'listen'], checked: 'not checked', why: 'public API: the SKEY an outgoing dial sends; the SKEY map follows the client\'s torrents' },
  { module: 'webtorrent/lib/torrent.js', member: 'torrent \'wire\' event', access: ['listen'], checked: 'not checked', why: 'public API: MSE evidence from each wire (patch/evidence.ts)' },
  { module: 'webtorrent/lib/torrent.js', member: 'torrent.discovery.tracker \'update\' event', access: ['read', 'listen'], checked: 'not checked', why: 'crypto_flags of announce responses (patch/evidence.ts; without it only that hint is lost)' }
]

export class IncompatibleWebTorrentError extends Error {
  override readonly name = 'IncompatibleWebTorrentError'
}

/** The modules of webtorrent-node's own webtorrent dependency. */
export const upstream: UpstreamModules = { WebTorrent: UpstreamWebTorrent, Peer, ConnPool, Torrent }

/** Each wrapper the patch installed, to upstream's function it wraps (see patch/install.ts). */
export const wrappedOriginals = sideTable<object, Function>('wrapped-original')
/** Getters the patch defined on upstream's prototypes (told apart from upstream's own members). */
export const ourGetters = sideTable<object, true>('our-getter')

/** Upstream's own function behind a (possibly) patched one. */
export function originalOf<F> (fn: F): F {
  return (typeof fn === 'function' ? wrappedOriginals.get(fn) ?? fn : fn) as F
}

/**
 * Walks the `start-up` rows of SURFACE for one copy of webtorrent (then checks bittorrent-protocol's Wire).
 * Throws an IncompatibleWebTorrentError naming every missing or changed member and the version found.
 */
export function assertCompatibleWebTorrent (modules: UpstreamModules = upstream): void {
  const problems = startUpProblems(modules)
  if (problems.length > 0) throw incompatible(modules?.WebTorrent, problems)
  assertCompatibleBittorrentProtocol()
}

function incompatible (WebTorrent: unknown, problems: string[]): IncompatibleWebTorrentError {
  const version = (WebTorrent as { VERSION?: unknown } | undefined)?.VERSION
  return new IncompatibleWebTorrentError(
    `webtorrent-node cannot patch this webtorrent (${typeof version === 'string' ? version : 'unknown version'}): ` +
    `missing or changed: ${problems.join('; ')}. It was built for webtorrent 3.0.x; pin webtorrent@3 or update webtorrent-node.`)
}

const FILES: Record<SurfaceMember['module'], string> = {
  webtorrent: 'index.js',
  'webtorrent/lib/peer.js': 'lib/peer.js',
  'webtorrent/lib/conn-pool.js': 'lib/conn-pool.js',
  'webtorrent/lib/torrent.js': 'lib/torrent.js',
  'bittorrent-protocol': 'bittorrent-protocol',
  'node:net': 'node:net'
}

function describe (row: SurfaceMember): string {
  return row.problem ?? `${row.member} (${FILES[row.module]})`
}

function startUpProblems (modules: Partial<UpstreamModules>): string[] {
  let probe: OnConnectProbe | undefined
  const found: StartUpView = {
    modules,
    probe: () => (probe ??= isFunction(modules.Peer?.prototype?.onConnect) ? probeOnConnect(modules.Peer!.prototype) : { buildsWire: true })
  }
  try {
    return SURFACE.filter(row => row.present !== undefined && !row.present(found)).map(describe)
  } finally {
    probe?.tearDown?.()
  }
}

/** Nothing, or a getter the patch defined: the name is free for us. */
function freeOrOurs (proto: object | undefined, name: string): boolean {
  if (!proto) return true
  const descriptor = Object.getOwnPropertyDescriptor(proto, name)
  return descriptor === undefined || (descriptor.get !== undefined && ourGetters.has(descriptor.get))
}

export interface OnConnectProbe {
  /** It read `this.conn` and left in `this.wire` a Wire whose own PE is off, as `this.secure` (0) says. */
  buildsWire: boolean
  wire?: UpstreamWire
  tearDown?: () => void
}

/** Stops upstream's onConnect on the probe once the Wire exists (it goes on to pipe throttle groups). */
class ProbeDone extends Error {}

/**
 * Runs upstream's own onConnect on a probe object shaped like a fresh outgoing TCP peer without a torrent,
 * with `secure` 0 (what the patch sets): it must read `this.conn` and leave in `this.wire` a Wire whose own
 * PE is off, the pipeline the patch plugs into. Checked by what it does, not by its source text. The
 * caller tears the probe down.
 */
function probeOnConnect (proto: UpstreamPeer): OnConnectProbe {
  const onConnect = originalOf(proto.onConnect)
  const reads = new Set<string>()
  const conn = Object.assign(new EventEmitter(), { destroy () {} })
  const fields: Record<string, unknown> = { id: 'probe', type: 'tcpOutgoing', secure: 0, conn, addr: null, swarm: null, wire: null, source: null, retries: 0, destroyed: false, connected: false }
  const probe = Object.create(proto) as UpstreamPeer
  for (const [name, value] of Object.entries(fields)) {
    let current = value
    Object.defineProperty(probe, name, {
      configurable: true,
      get () { reads.add(name); return current },
      set (next) { current = next }
    })
  }
  // Reached only after the Wire was built: the probe ends there, before any stream is piped.
  Object.defineProperty(probe, 'throttleGroups', { get () { throw new ProbeDone() } })
  let failed = false
  try {
    onConnect.call(probe)
  } catch (err) {
    failed = !(err instanceof ProbeDone)
  }
  const wire = probe.wire ?? undefined
  // bittorrent-protocol keeps the level as `_peEnabled` (mse-wire's own check relies on it too).
  const peLevel = (wire as { _peEnabled?: unknown } | undefined)?._peEnabled
  const buildsWire = !failed && reads.has('conn') && wire !== undefined && isFunction(wire.on) && peLevel === 0
  return { buildsWire, wire: buildsWire ? wire : undefined, tearDown: () => tearDown(proto, probe, wire) }
}

function tearDown (proto: UpstreamPeer, probe: UpstreamPeer, wire: UpstreamWire | undefined): void {
  try {
    // Upstream's destroy clears the handshake timer onConnect started and destroys the Wire.
    if (isFunction(proto.destroy)) proto.destroy.call(probe)
  } catch {}
  try {
    ;(wire as unknown as { destroy?: () => void } | undefined)?.destroy?.()
  } catch {}
}

/** Prototypes whose instances passed (each kind is checked on its first object, not on every one). */
const checkedPrototypes = sideTable<object, true>('checked-prototype')

/**
 * Checks the `instance` rows of SURFACE on an object upstream built. Throws an IncompatibleWebTorrentError
 * naming the missing fields; the caller refuses that object.
 */
export function assertUpstreamInstance (kind: InstanceKind, object: object, WebTorrent: unknown = upstream.WebTorrent): void {
  const proto = Object.getPrototypeOf(object) as object | null
  if (proto && checkedPrototypes.has(proto)) return
  const missing = SURFACE.filter(row => row.instance?.kind === kind && !(row.instance.field in object)).map(row => row.member)
  if (missing.length > 0) throw incompatible(WebTorrent, missing)
  if (proto) checkedPrototypes.set(proto, true)
}
