// compact2string 1.4 and webtorrent 3 ship no types. compact2string: the part patch/evidence.ts uses (the parser
// webtorrent's tracker and ut_pex clients use, so addresses come out spelled exactly as webtorrent spells them).
declare module 'compact2string' {
  const compact2string: {
    (buffer: Buffer): string
    /** IPv4 peers, 6 bytes each ("a.b.c.d:port"). Throws if the length is not a multiple of 6. */
    multi (buffer: Buffer): string[]
  }
  export default compact2string
}

// webtorrent 3 ships no types. Its shapes are declared once, as this project sees them: the public part in
// webtorrent-api.ts (what the published declarations use), the internals the patch touches in
// upstream-types.ts (each one a row of surface.ts). These declarations only point the modules there.
declare module 'webtorrent' {
  const WebTorrent: import('../webtorrent-api.js').WebTorrentClass
  type WebTorrent = import('../webtorrent-api.js').WebTorrentClient
  export default WebTorrent
  export type Torrent = import('../webtorrent-api.js').Torrent
  export type Wire = import('../webtorrent-api.js').Wire
}
declare module 'webtorrent/lib/peer.js' {
  const Peer: import('./upstream-types.js').UpstreamPeerClass
  export default Peer
}
declare module 'webtorrent/lib/conn-pool.js' {
  const ConnPool: import('./upstream-types.js').UpstreamConnPoolClass
  export default ConnPool
}
declare module 'webtorrent/lib/torrent.js' {
  const Torrent: import('./upstream-types.js').UpstreamTorrentClass
  export default Torrent
}
