/**
 * The "our side" of the smoke tests: the plain upstream `webtorrent` npm client with every
 * discovery mechanism off. (Later suites swap in the MSE client from packages/.)
 *
 * Note: upstream webtorrent's TCP server listens on all interfaces (it has no bind-address
 * option); with DHT, trackers, LSD, PEX, UPnP and NAT-PMP off it only ever talks to the loopback
 * peers we add by hand.
 */
import WebTorrent, { type Torrent } from 'webtorrent'
import { join } from 'node:path'
import { LOOPBACK_ONLY } from 'webtorrent-node'
import { assertLoopback } from './peers/common.js'
import { within, until } from 'test-support'

export type Secure = 0 | 1 | 2

export function createWebTorrent (secure: Secure): WebTorrent {
  // The same 'everything off, TCP only' preset our client uses, plus upstream's own PE level.
  return new WebTorrent({ ...LOOPBACK_ONLY, secure })
}

/** Resolves with the client's listening port. */
export async function listeningPort (client: WebTorrent, timeoutMs = 10000): Promise<number> {
  await until(() => client.listening, timeoutMs, 'webtorrent to listen', 20)
  const addr = client.address()
  if (!addr?.port) throw new Error('webtorrent has no listening port')
  return addr.port
}

export async function destroyWebTorrent (client: WebTorrent, timeoutMs = 10000): Promise<void> {
  await within(
    new Promise<void>((resolve) => client.destroy(() => resolve())),
    timeoutMs,
    'webtorrent client to close'
  ).catch(() => undefined)
}

/** Seed `contentPath` (a file) under the torrent's exact metadata; resolves once ready. */
export async function seedWith (client: WebTorrent, torrentBuffer: Buffer, contentDir: string, timeoutMs = 30000): Promise<Torrent> {
  // Adding the .torrent with `path` pointing at the content makes webtorrent verify and seed it
  // with exactly the metadata the real peer has (client.seed() would re-create the torrent).
  const torrent = client.add(torrentBuffer, { path: contentDir })
  await within(
    new Promise<void>((resolve, reject) => {
      const check = (): void => { if (torrent.done) resolve() }
      torrent.once('error', reject)
      torrent.on('done', check)
      torrent.once('ready', check)
      check()
    }),
    timeoutMs,
    'webtorrent to verify its seed copy'
  )
  return torrent
}

/** Start downloading into `dir`; the torrent is returned at once (wait with waitDone). */
export function downloadWith (client: WebTorrent, torrentBuffer: Buffer, dir: string): Torrent {
  return client.add(torrentBuffer, { path: dir })
}

export async function waitDone (torrent: Torrent, timeoutMs: number, what = 'webtorrent download'): Promise<void> {
  await within(
    new Promise<void>((resolve, reject) => {
      if (torrent.done) { resolve(); return }
      torrent.once('done', () => resolve())
      torrent.once('error', reject)
    }),
    timeoutMs,
    `${what} (progress ${(torrent.progress * 100).toFixed(1)}%)`
  )
}

/** Add a loopback peer (after the torrent has its metadata, as webtorrent wants). */
export async function addPeerWhenReady (torrent: Torrent, address: string, port: number, timeoutMs = 10000): Promise<void> {
  assertLoopback(address)
  await until(() => torrent.ready, timeoutMs, 'webtorrent torrent to be ready', 20)
  torrent.addPeer(`${address}:${port}`)
}

/**
 * Resolves once webtorrent has given up `count` connection attempts to `address:port` (each failed dial
 * ends in `torrent.removePeer` with the peer's address as its id; webtorrent redials after 1 s, 5 s, ...).
 * For tests where an unmodified webtorrent's connection must fail: it reports no event of its own for that.
 * Call before `addPeerWhenReady`, so that no attempt ends unseen.
 */
export async function attemptsEnded (torrent: Torrent, address: string, port: number, count: number, timeoutMs = 30000): Promise<void> {
  const id = `${address}:${port}`
  // webtorrent's Torrent type does not declare removePeer's argument as it is called (a Peer or its id).
  const swarm = torrent as unknown as { removePeer: (peer: unknown) => void }
  const original = swarm.removePeer
  let ended = 0
  let reached: () => void = () => {}
  const done = new Promise<void>(resolve => { reached = resolve })
  swarm.removePeer = function (this: unknown, peer: unknown) {
    const peerId = (peer as { id?: unknown } | null)?.id ?? peer
    if (peerId === id && ++ended >= count) reached()
    return original.call(this, peer)
  }
  try {
    await within(done, timeoutMs, `${count} ended connection attempts to ${id}`)
  } finally {
    swarm.removePeer = original
  }
}

export function contentFile (dir: string, name: string): string {
  return join(dir, name)
}
