/** Loopback sockets for tests: 127.0.0.1 and ephemeral ports only (other test runs share the machine). */
import net from 'node:net'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { within } from './wait.js'

export const LOOPBACK = '127.0.0.1'

/** The 20 bytes a plaintext BitTorrent connection starts with: 19, "BitTorrent protocol". */
export const PLAINTEXT_HEADER = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol', 'latin1')])

/** A TCP server on 127.0.0.1 with an ephemeral port; resolves with the server and its port. */
export async function listen (onConnection: (socket: net.Socket) => void): Promise<{ server: net.Server, port: number }> {
  const server = net.createServer(onConnection)
  await new Promise<void>(resolve => server.listen(0, LOOPBACK, resolve))
  return { server, port: (server.address() as net.AddressInfo).port }
}

/** A connected socket to 127.0.0.1:port (rejects after 5 s or on a connection error). */
export async function dial (port: number): Promise<net.Socket> {
  const socket = net.connect(port, LOOPBACK)
  await within(new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  }), 5000, `connect to ${LOOPBACK}:${port}`)
  return socket
}

/** Whether `needle` occurs anywhere in `haystack`. */
export function contains (haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle) !== -1
}

/** Node's listen() backlog when none is given (lib/net.js). */
export const NODE_DEFAULT_BACKLOG = 511

/** Linux's cap on every listen() backlog (net.core.somaxconn). */
export function somaxconn (): number {
  return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
}

/**
 * The backlog the kernel holds for the TCP socket listening on `port`: for a LISTEN socket, `ss`'s Send-Q
 * column is its backlog (already capped at somaxconn). Throws unless exactly one such socket exists.
 */
export function listenBacklogOf (port: number): number {
  const lines = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)
  if (lines.length !== 1) throw new Error(`expected one listening socket on port ${port}, ss printed: ${JSON.stringify(lines)}`)
  // State Recv-Q Send-Q Local Peer
  const sendQ = Number(lines[0]!.trim().split(/\s+/)[2])
  if (!Number.isInteger(sendQ)) throw new Error(`no backlog in ss line: ${lines[0]}`)
  return sendQ
}
