// Resolves a real WebRTC implementation lazily, at the moment a WebRTC peer is created, so that
// importing webtorrent (for TCP) never needs one.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const NAMES = ['RTCPeerConnection', 'RTCSessionDescription', 'RTCIceCandidate', 'RTCDataChannel']

let resolved
function implementation () {
  if (resolved) return resolved
  if (typeof globalThis.RTCPeerConnection === 'function') {
    resolved = globalThis
    return resolved
  }
  try {
    resolved = require('node-datachannel/polyfill')
    return resolved
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
  return class {
    constructor (...args) {
      const Real = implementation()[name]
      return new Real(...args)
    }

    static [Symbol.hasInstance] (value) {
      try { return value instanceof implementation()[name] } catch { return false }
    }
  }
}

export const RTCPeerConnection = lazyClass('RTCPeerConnection')
export const RTCSessionDescription = lazyClass('RTCSessionDescription')
export const RTCIceCandidate = lazyClass('RTCIceCandidate')
export const RTCDataChannel = lazyClass('RTCDataChannel')
export { NAMES as implementedNames }
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate, RTCDataChannel }
