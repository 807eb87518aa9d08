// Mirrors webrtc-polyfill/polyfill: installs the globals only where a real implementation exists.
import * as webrtc from './index.js'
for (const name of webrtc.implementedNames) {
  if (typeof globalThis[name] === 'undefined') globalThis[name] = webrtc[name]
}
