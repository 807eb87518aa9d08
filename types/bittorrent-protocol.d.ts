// bittorrent-protocol ships no types. Its Wire's shape is declared once, in mse-wire's own source
// (packages/mse-wire/src/bittorrent-wire.ts, which the published declarations use); this only says that the
// module's default export is that class.
declare module 'bittorrent-protocol' {
  const Wire: import('../packages/mse-wire/src/bittorrent-wire.js').BittorrentWireClass & { nativeRC4: boolean }
  export default Wire
}
