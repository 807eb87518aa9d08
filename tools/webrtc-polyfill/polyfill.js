// Mirrors webrtc-polyfill/polyfill: installs real WebRTC globals where an implementation exists, and
// nothing where none does (so `typeof RTCPeerConnection` keeps telling the truth).
import { implementation, implementedNames } from './index.js'

let real
try { real = implementation() } catch { real = undefined }
if (real && real !== globalThis) {
  for (const name of implementedNames) {
    if (typeof globalThis[name] === 'undefined' && real[name]) globalThis[name] = real[name]
  }
}
