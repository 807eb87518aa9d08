import { expect } from 'chai'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as webrtc from 'webrtc-polyfill'
import WebTorrent from '../src/index.js'

/**
 * webrtc-polyfill is replaced by tools/webrtc-polyfill (the real one downloads a prebuilt binary from
 * outside the package registries). TCP must never depend on it; a WebRTC peer must fail clearly.
 */
function hasWebRtcImplementation (): boolean {
  if (typeof (globalThis as any).RTCPeerConnection === 'function') return true
  try {
    createRequire(import.meta.url)('node-datachannel/polyfill')
    return true
  } catch {
    return false
  }
}

describe('WebRTC stand-in (tools/webrtc-polyfill)', () => {
  it('is the local stand-in, not the package that needs a prebuilt binary', () => {
    const entry = fileURLToPath(import.meta.resolve('webrtc-polyfill'))
    const pkg = JSON.parse(readFileSync(path.join(path.dirname(entry), 'package.json'), 'utf8'))
    expect(pkg.version).to.match(/-local$/)
  })

  it('lets a client that uses only TCP start and stop without any WebRTC implementation', async () => {
    const client = new WebTorrent({ dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false, utPex: false, webSeeds: false, utp: false })
    await new Promise<void>(resolve => client.once('listening', () => resolve()))
    expect(client.address()?.port).to.be.a('number')
    await new Promise<void>(resolve => client.destroy(() => resolve()))
  })

  it('fails with a clear, typed error only when a WebRTC peer connection is actually created', function () {
    if (hasWebRtcImplementation()) this.skip() // then it must build the real thing instead
    let error: any
    try {
      // eslint-disable-next-line no-new
      new (webrtc as any).RTCPeerConnection()
    } catch (err) {
      error = err
    }
    expect(error, 'constructing a peer connection must throw').to.be.instanceOf(Error)
    expect(error.code).to.equal('ERR_WEBRTC_UNAVAILABLE')
    expect(error.message).to.match(/WebRTC peers need a WebRTC implementation/)
    expect(error.message).to.match(/TCP peers work without it/)
  })

  it('uses a global RTCPeerConnection when the runtime has one', function () {
    if (hasWebRtcImplementation()) this.skip() // a real implementation was resolved already
    const previous = (globalThis as any).RTCPeerConnection
    class FakeRTCPeerConnection { kind = 'fake' }
    ;(globalThis as any).RTCPeerConnection = FakeRTCPeerConnection
    try {
      const pc = new (webrtc as any).RTCPeerConnection()
      expect(pc).to.be.instanceOf(FakeRTCPeerConnection)
    } finally {
      if (previous === undefined) delete (globalThis as any).RTCPeerConnection
      else (globalThis as any).RTCPeerConnection = previous
    }
  })
})
