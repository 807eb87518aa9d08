/**
 * Feature detection: webtorrent-node refuses to patch a webtorrent whose seams moved, with a message that
 * names what is missing, instead of silently running without encryption. The fakes are modified copies of
 * the modules object; the real classes are never touched.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import Wire from 'bittorrent-protocol'
import UpstreamWebTorrent from 'webtorrent'
import { IncompatibleWebTorrentError, assertCompatibleWebTorrent, installMsePatches, isMsePatchInstalled } from '../src/index.js'
import { upstream, type UpstreamModules } from '../src/patch/surface.js'
import { Fixtures } from './helpers.js'

/** A class-like function whose prototype is a copy of `real`'s, minus `remove`, plus `override`. */
function fakeClass (real: any, remove: string[] = [], override: Record<string, unknown> = {}): any {
  function Fake (): void {}
  const proto: Record<string, unknown> = {}
  for (const name of Object.getOwnPropertyNames(real.prototype)) {
    if (name === 'constructor' || remove.includes(name)) continue
    const descriptor = Object.getOwnPropertyDescriptor(real.prototype, name)!
    if ('value' in descriptor) proto[name] = descriptor.value
  }
  Object.assign(proto, override)
  Fake.prototype = proto
  for (const name of Object.getOwnPropertyNames(real)) {
    if (['length', 'name', 'prototype', 'caller', 'arguments'].includes(name) || remove.includes(`static ${name}`)) continue
    ;(Fake as any)[name] = real[name]
  }
  return Fake
}

/**
 * webtorrent 3's onConnect as far as the check cares (it builds the Wire over `this.conn`). The real one
 * cannot be copied once this process installed the patch, because the prototype then holds the wrapper.
 */
const onConnectLikeUpstream = {
  onConnect (this: any) {
    const conn = this.conn
    this.wire = new (Wire as any)(this.type, this.secure)
    return conn
  }
}

/** The real modules with a Peer copy whose onConnect looks like upstream's (patched or not in this process). */
const baseline = (): UpstreamModules => ({ ...upstream, Peer: fakeClass(upstream.Peer, [], onConnectLikeUpstream) })

function withSeam (changes: Partial<UpstreamModules>): UpstreamModules {
  return { ...baseline(), ...changes }
}

function expectIncompatible (modules: UpstreamModules, ...mentions: RegExp[]): void {
  let caught: unknown
  try {
    assertCompatibleWebTorrent(modules)
  } catch (err) {
    caught = err
  }
  expect(caught, 'assertCompatibleWebTorrent should throw').to.be.instanceOf(IncompatibleWebTorrentError)
  const error = caught as Error
  expect(error.name).to.equal('IncompatibleWebTorrentError')
  expect(error.message).to.match(/webtorrent-node cannot patch this webtorrent/)
  expect(error.message).to.match(/pin webtorrent@3/)
  for (const mention of mentions) expect(error.message).to.match(mention)
}

describe('feature detection of webtorrent\'s seams', () => {
  let snapshot: Record<string, unknown>
  before(() => {
    installMsePatches() // idempotent: whatever ran before, the real classes are patched exactly once from here on
    snapshot = {
      onConnect: upstream.Peer.prototype.onConnect,
      onConnection: upstream.ConnPool.prototype._onConnection,
      addPeer: upstream.Torrent.prototype._addPeer,
      add: upstream.WebTorrent.prototype.add
    }
  })

  after(() => {
    // None of the fakes below changed the real classes.
    expect(upstream.Peer.prototype.onConnect).to.equal(snapshot.onConnect)
    expect(upstream.ConnPool.prototype._onConnection).to.equal(snapshot.onConnection)
    expect(upstream.Torrent.prototype._addPeer).to.equal(snapshot.addPeer)
    expect(upstream.WebTorrent.prototype.add).to.equal(snapshot.add)
  })

  it('passes for the installed webtorrent and bittorrent-protocol (fresh process, before any patch)', async () => {
    const packageDir = fileURLToPath(new URL('..', import.meta.url))
    const script = "import { assertCompatibleWebTorrent } from 'webtorrent-node'; assertCompatibleWebTorrent(); console.log('compatible')"
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', script], { cwd: packageDir, timeout: 20_000 },
        (err, out, errOut) => err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out))
    })
    expect(stdout.trim()).to.equal('compatible')
  })

  it('still passes once the patch is installed in this process [fails: it reads the wrapper\'s source]', async () => {
    const fx = new Fixtures()
    try {
      await fx.ours('preferred')
      expect(isMsePatchInstalled(upstream)).to.equal(true)
      expect(() => assertCompatibleWebTorrent()).to.not.throw()
    } finally {
      await fx.cleanup()
    }
  })

  it('the fake copies themselves pass when nothing is removed (the harness is sound)', () => {
    expect(upstream.WebTorrent).to.equal(UpstreamWebTorrent)
    expect(() => assertCompatibleWebTorrent(baseline())).to.not.throw()
    expect(() => assertCompatibleWebTorrent(withSeam({ ConnPool: fakeClass(upstream.ConnPool) }))).to.not.throw()
    expect(() => assertCompatibleWebTorrent(withSeam({ Torrent: fakeClass(upstream.Torrent) }))).to.not.throw()
    expect(() => assertCompatibleWebTorrent(withSeam({ WebTorrent: fakeClass(upstream.WebTorrent) }))).to.not.throw()
  })

  const missing: Array<[string, () => Partial<UpstreamModules>, RegExp]> = [
    ['Peer.prototype.onConnect', () => ({ Peer: fakeClass(upstream.Peer, ['onConnect']) }), /Peer\.prototype\.onConnect \(lib\/peer\.js\)/],
    ['Peer.prototype.destroy', () => ({ Peer: fakeClass(upstream.Peer, ['destroy'], onConnectLikeUpstream) }), /Peer\.prototype\.destroy/],
    ['Peer.createTCPIncomingPeer', () => ({ Peer: fakeClass(upstream.Peer, ['static createTCPIncomingPeer'], onConnectLikeUpstream) }), /Peer\.createTCPIncomingPeer/],
    ['Peer.createTCPOutgoingPeer', () => ({ Peer: fakeClass(upstream.Peer, ['static createTCPOutgoingPeer'], onConnectLikeUpstream) }), /Peer\.createTCPOutgoingPeer/],
    ['ConnPool.prototype._onConnection', () => ({ ConnPool: fakeClass(upstream.ConnPool, ['_onConnection']) }), /ConnPool\.prototype\._onConnection \(lib\/conn-pool\.js\)/],
    ['Torrent.prototype._addPeer', () => ({ Torrent: fakeClass(upstream.Torrent, ['_addPeer']) }), /Torrent\.prototype\._addPeer \(lib\/torrent\.js\)/],
    ['WebTorrent.prototype.add', () => ({ WebTorrent: fakeClass(upstream.WebTorrent, ['add']) }), /WebTorrent\.prototype\.add/],
    ['WebTorrent.prototype.seed', () => ({ WebTorrent: fakeClass(upstream.WebTorrent, ['seed']) }), /WebTorrent\.prototype\.seed/],
    ['the webtorrent class itself', () => ({ WebTorrent: {} as any }), /webtorrent default export is not a class/]
  ]
  for (const [seam, changes, mention] of missing) {
    it(`throws IncompatibleWebTorrentError naming ${seam} when it is missing`, () => {
      expectIncompatible(withSeam(changes()), mention)
    })
  }

  it('throws when onConnect no longer builds `new Wire(this.type, this.secure)` over `this.conn`', () => {
    const moved = fakeClass(upstream.Peer, [], {
      onConnect (this: { wire: unknown, buildWire: () => unknown }) {
        // A future webtorrent that builds its Wire elsewhere: the patch would silently not apply.
        this.wire = this.buildWire()
      },
      buildWire () { return null }
    })
    expectIncompatible(withSeam({ Peer: moved }), /no longer creates `new Wire\(this\.type, this\.secure\)`/)
  })

  it('lists every problem at once, and names the version it found', () => {
    const WebTorrent = fakeClass(upstream.WebTorrent, ['add'])
    WebTorrent.VERSION = '4.0.0-fake'
    expectIncompatible(
      withSeam({ WebTorrent, Torrent: fakeClass(upstream.Torrent, ['_addPeer']) }),
      /\(4\.0\.0-fake\)/, /WebTorrent\.prototype\.add/, /Torrent\.prototype\._addPeer/
    )
  })

  it('installMsePatches refuses an incompatible set and leaves the fakes unpatched', () => {
    const Peer = fakeClass(upstream.Peer, [], onConnectLikeUpstream)
    const ConnPool = fakeClass(upstream.ConnPool, ['_onConnection'])
    const Torrent = fakeClass(upstream.Torrent)
    const WebTorrent = fakeClass(upstream.WebTorrent)
    const before = { onConnect: Peer.prototype.onConnect, add: WebTorrent.prototype.add }
    expect(() => installMsePatches({ WebTorrent, Peer, ConnPool, Torrent })).to.throw(IncompatibleWebTorrentError, /ConnPool\.prototype\._onConnection/)
    expect(Peer.prototype.onConnect).to.equal(before.onConnect)
    expect(WebTorrent.prototype.add).to.equal(before.add)
  })
})
