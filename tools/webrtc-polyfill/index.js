// Resolves a real WebRTC implementation lazily, at the moment a WebRTC peer is created, so that
// importing webtorrent (for TCP) never needs one.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const NAMES = ['RTCPeerConnection', 'RTCSessionDescription', 'RTCIceCandidate', 'RTCDataChannel']
/** Marks this module's own lazy classes, so they are never mistaken for a real implementation. */
const LAZY = Symbol.for('webrtc-polyfill.local-stand-in')

let installedPackage

/** The real implementation: the runtime's own globals, else the node-datachannel package, else an error. */
export function implementation () {
  const global = globalThis.RTCPeerConnection
  // Looked up each time: a runtime's WebRTC may be installed after this module loads.
  if (typeof global === 'function' && !global[LAZY]) return globalThis
  if (installedPackage) return installedPackage
  try {
    installedPackage = require('node-datachannel/polyfill')
    return installedPackage
  } catch (err) {
    const error = new Error(
      'WebRTC peers need a WebRTC implementation and none is installed. ' +
      'Install one (e.g. `npm i node-datachannel`) to use WebRTC peers; TCP peers work without it. ' +
      `(${err && err.message})`)
    error.code = 'ERR_WEBRTC_UNAVAILABLE'
    throw error
  }
}

function lazyClass (name) {
  // A constructor that builds the real class on first use and throws a clear error where none exists.
  const Lazy = class {
    constructor (...args) {
      const Real = implementation()[name]
      return new Real(...args)
    }

    static [Symbol.hasInstance] (value) {
      try { return value instanceof implementation()[name] } catch { return false }
    }
  }
  Object.defineProperty(Lazy, LAZY, { value: true })
  Object.defineProperty(Lazy, 'name', { value: name })
  return Lazy
}

export const RTCPeerConnection = lazyClass('RTCPeerConnection')
export const RTCSessionDescription = lazyClass('RTCSessionDescription')
export const RTCIceCandidate = lazyClass('RTCIceCandidate')
export const RTCDataChannel = lazyClass('RTCDataChannel')
export { NAMES as implementedNames }
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate, RTCDataChannel }
