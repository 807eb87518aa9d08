import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { SkeyRegistry, type EncryptionPolicy } from 'mse-core'
import { createEncryptedWire, type EncryptedWire, type EncryptedWireOptions } from '../src/index.js'

export const LOOPBACK = '127.0.0.1'

/** A TCP server on 127.0.0.1 with an ephemeral port; resolves with the server and its port. */
export async function listen (onConnection: (socket: net.Socket) => void): Promise<{ server: net.Server, port: number }> {
  const server = net.createServer(onConnection)
  await new Promise<void>(resolve => server.listen(0, LOOPBACK, resolve))
  return { server, port: (server.address() as net.AddressInfo).port }
}

export async function dial (port: number): Promise<net.Socket> {
  const socket = net.connect(port, LOOPBACK)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return socket
}

export interface WirePair {
  initiator: EncryptedWire
  responder: EncryptedWire
  infoHash: string
  close (): void
}

export interface PairOptions {
  initiator?: Partial<EncryptedWireOptions> & { policy?: EncryptionPolicy }
  responder?: Partial<EncryptedWireOptions> & { policy?: EncryptionPolicy }
  infoHash?: string
  /** Put a transform between the two sockets (e.g. a re-chunker). */
  relay?: (from: net.Socket, to: net.Socket) => void
}

/** Two encrypted Wires over real TCP sockets on 127.0.0.1, one per role. */
export async function wirePair (options: PairOptions = {}): Promise<WirePair> {
  const infoHash = options.infoHash ?? randomBytes(20).toString('hex')
  const skeys = new SkeyRegistry()
  skeys.add(infoHash)
  let accepted!: (socket: net.Socket) => void
  const acceptedSocket = new Promise<net.Socket>(resolve => { accepted = resolve })
  const { server, port } = await listen(socket => accepted(socket))
  const outgoing = await dial(port)
  const incoming = await acceptedSocket
  server.close()
  const initiator = createEncryptedWire(outgoing, { role: 'initiator', infoHash, ...options.initiator })
  const responder = createEncryptedWire(incoming, { role: 'responder', skeys, ...options.responder })
  return {
    initiator,
    responder,
    infoHash,
    close () {
      initiator.wire.destroy()
      responder.wire.destroy()
      outgoing.destroy()
      incoming.destroy()
    }
  }
}

/** Runs the BitTorrent handshake both ways; resolves with what each Wire received. */
export async function bittorrentHandshake (pair: WirePair): Promise<{ initiatorSaw: string, responderSaw: string }> {
  const peerIdA = randomBytes(20).toString('hex')
  const peerIdB = randomBytes(20).toString('hex')
  const responderSaw = new Promise<string>(resolve => pair.responder.wire.once('handshake', (infoHash: string, peerId: string) => {
    pair.responder.wire.handshake(infoHash, peerIdB)
    resolve(`${infoHash}/${peerId === peerIdA}`)
  }))
  const initiatorSaw = new Promise<string>(resolve => pair.initiator.wire.once('handshake', (infoHash: string, peerId: string) => resolve(`${infoHash}/${peerId === peerIdB}`)))
  pair.initiator.wire.handshake(pair.infoHash, peerIdA)
  return { initiatorSaw: await initiatorSaw, responderSaw: await responderSaw }
}
