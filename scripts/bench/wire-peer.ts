/**
 * One end of the wire benchmark, in its own process (forked by wire.ts with an IPC channel):
 *
 *   seed <mode> <infoHash>                listens on 127.0.0.1:0, sends {port}, serves every block requested
 *   leech <mode> <infoHash> <port> <bytes> <window>
 *                                         connects, requests <bytes> in 16 KiB blocks with <window> requests in
 *                                         flight, checks every byte, sends {bytes, ms, cpuMs, ...}
 *
 * Modes, each a bittorrent-protocol 5 Wire on a net.Socket over loopback TCP:
 * - plaintext:    new Wire(type, 0), socket <-> Wire (streamx pipeline), no MSE.
 * - ours_rc4:     mse-wire's createEncryptedWire(socket, { policy: 'required', aes: false }): socket <-> MseStream <-> Wire(PE 0).
 * - ours_aes:     the same with AES-128-CTR on (the default between two peers of this project).
 * - upstream_rc4: new Wire(type, 2) (PE with RC4 only), driven as webtorrent 3.0.21 drives it: the outgoing
 *                 wire calls startEncryption(infoHash) and sends its handshake on 'crypto-handshake'; the
 *                 incoming wire looks the torrent up on 'crypto-infohash' and calls setInfoHash(infoHash).
 *                 Run without --openssl-legacy-provider, as a default webtorrent user runs: upstream's RC4
 *                 is then its JS fallback (reported as `nativeRC4`).
 * Block contents are a fixed 16 MiB pattern (same on both sides), so the leech checks every block with a
 * memcmp that costs next to nothing.
 */
import net from 'node:net'
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import Wire from 'bittorrent-protocol'
import { pipeline } from 'streamx'
import { SkeyRegistry } from 'mse-core'
import { createEncryptedWire } from 'mse-wire'

export type WireBenchMode = 'plaintext' | 'ours_rc4' | 'ours_aes' | 'upstream_rc4'

export interface LeechReport {
  mode: WireBenchMode
  bytes: number
  /** Wall time from the first request to the last byte checked. */
  ms: number
  /** CPU time (user + system) of this process over the same span. */
  cpuMs: number
  /** How the MSE handshake ended on this side (ours_rc4 / upstream_rc4). */
  method: string
  /** Whether bittorrent-protocol found native RC4 in this process. */
  nativeRC4: boolean
  mismatches: number
}

export interface SeedReport {
  cpuMs: number
  method: string
  nativeRC4: boolean
}

const PIECE_LENGTH = 1024 * 1024
const BLOCK_LENGTH = 16 * 1024
const PATTERN_LENGTH = 16 * 1024 * 1024

function pattern (): Buffer {
  const key = createHash('sha256').update('wire bench').digest()
  return createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16)).update(Buffer.alloc(PATTERN_LENGTH))
}

function blockAt (data: Buffer, index: number, offset: number, length: number): Buffer {
  const start = (index * PIECE_LENGTH + offset) % PATTERN_LENGTH
  return data.subarray(start, start + length)
}

function cpuMs (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

function send (message: unknown): void {
  process.send!(message)
}

const nativeRC4 = Boolean((Wire as any).nativeRC4)

/** Puts a Wire on the socket for `mode`; resolves when the BitTorrent handshake may be sent (outgoing). */
function attach (socket: net.Socket, mode: WireBenchMode, role: 'seed' | 'leech', infoHash: string): { wire: any, method: () => string } {
  const outgoing = role === 'leech'
  const type = outgoing ? 'tcpOutgoing' : 'tcpIncoming'
  socket.setNoDelay(false)
  if (mode === 'ours_rc4' || mode === 'ours_aes') {
    const skeys = new SkeyRegistry()
    skeys.add(infoHash)
    const aes = mode === 'ours_aes'
    const { wire, stream } = createEncryptedWire(socket, outgoing
      ? { role: 'initiator', policy: 'required', infoHash, aes }
      : { role: 'responder', policy: 'required', skeys, aes })
    return { wire, method: () => stream.outcome?.method ?? 'pending' }
  }
  const wire = new (Wire as any)(type, mode === 'upstream_rc4' ? 2 : 0)
  pipeline(socket as any, wire, socket as any)
  if (mode === 'upstream_rc4' && !outgoing) {
    const req2 = createHash('sha1').update('req2').update(Buffer.from(infoHash, 'hex')).digest('hex')
    wire.once('crypto-infohash', (hashHash: string) => {
      if (hashHash === req2) wire.setInfoHash(infoHash)
      else wire.destroy()
    })
  }
  const method = (): string => mode === 'plaintext' ? 'plaintext' : ({ 1: 'plaintext-after-mse', 2: 'rc4' } as Record<number, string>)[wire._encryptionMethod] ?? 'pending'
  return { wire, method }
}

async function seed (mode: WireBenchMode, infoHash: string): Promise<void> {
  const data = pattern()
  const server = net.createServer(socket => {
    server.close()
    const { wire, method } = attach(socket, mode, 'seed', infoHash)
    wire.on('error', () => {})
    socket.on('error', () => {})
    wire.once('handshake', (hash: string) => {
      wire.handshake(hash, randomBytes(20))
      wire.unchoke()
    })
    wire.on('request', (index: number, offset: number, length: number, respond: (err: Error | null, block: Uint8Array) => void) => {
      respond(null, blockAt(data, index, offset, length))
    })
    const cpu0 = cpuMs()
    const report = (): void => { send({ seed: { cpuMs: cpuMs() - cpu0, method: method(), nativeRC4 } satisfies SeedReport }) }
    process.once('message', () => { report(); setTimeout(() => process.exit(0), 20) })
  })
  server.listen(0, '127.0.0.1', () => send({ port: (server.address() as net.AddressInfo).port }))
}

async function leech (mode: WireBenchMode, infoHash: string, port: number, bytes: number, window: number): Promise<void> {
  const data = pattern()
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const { wire, method } = attach(socket, mode, 'leech', infoHash)
  wire.on('error', (err: Error) => { send({ error: `wire: ${err.message}` }); process.exit(1) })
  const peerId = randomBytes(20)
  if (mode === 'upstream_rc4') {
    wire.once('crypto-handshake', () => wire.handshake(infoHash, peerId))
    wire.startEncryption(infoHash)
  } else {
    wire.handshake(infoHash, peerId)
  }
  await new Promise<void>(resolve => wire.once('handshake', () => resolve()))
  if (wire.peerChoking) await new Promise<void>(resolve => wire.once('unchoke', () => resolve()))

  let next = 0
  let outstanding = 0
  let mismatches = 0
  const t0 = performance.now()
  const cpu0 = cpuMs()
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (outstanding < window && next < bytes) {
        const start = next
        const index = Math.floor(start / PIECE_LENGTH)
        const offset = start % PIECE_LENGTH
        next += BLOCK_LENGTH
        outstanding++
        wire.request(index, offset, BLOCK_LENGTH, (err: Error | null, block: Uint8Array) => {
          outstanding--
          if (err) { reject(err); return }
          if (Buffer.compare(block, blockAt(data, index, offset, BLOCK_LENGTH)) !== 0) mismatches++
          if (next >= bytes && outstanding === 0) resolve()
          else pump()
        })
      }
    }
    pump()
  })
  const report: LeechReport = { mode, bytes, ms: performance.now() - t0, cpuMs: cpuMs() - cpu0, method: method(), nativeRC4, mismatches }
  send({ leech: report })
  socket.destroy()
  setTimeout(() => process.exit(0), 20)
}

const [role, mode, infoHash, port, bytes, window] = process.argv.slice(2)
if (!process.send) throw new Error('wire-peer.ts runs as a forked child of wire.ts')
if (role === 'seed') await seed(mode as WireBenchMode, infoHash!)
else await leech(mode as WireBenchMode, infoHash!, Number(port), Number(bytes), Number(window))
