export const RTCPeerConnection: any
export const RTCSessionDescription: any
export const RTCIceCandidate: any
export const RTCDataChannel: any
export const implementedNames: string[]
export function implementation (): any
declare const _default: { RTCPeerConnection: any, RTCSessionDescription: any, RTCIceCandidate: any, RTCDataChannel: any }
export default _default
