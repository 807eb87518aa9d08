/**
 * Hostile or broken peers over real TCP on 127.0.0.1, against a listening responder (an application-style
 * server wrapping every accepted socket in an encrypted Wire) and against an initiator. Each connection must
 * end with the right typed error within its deadline, the socket must be closed, a healthy connection run at
 * the same time must complete, and nothing may escape as an uncaught exception.
 */
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { DH_PRIME_HEX } from 'mse-core'
import { createEncryptedWire, type MseOutcome } from '../src/index.js'
import { bittorrentHandshake, exchangeBlocks, wirePair } from './helpers.js'
import { awaitedLater, closed, dial, failOnUncaught, sleep, within } from 'test-support'
import { RawPeer, ScriptedInitiator, ScriptedResponder, healthyClient, rawServer, startMseServer, type MseServer } from './peers.js'

const STAGE_TIMEOUT_MS = 300
/** How late a deadline may fire and still count as "within its deadline" on a loaded CI machine. */
const DEADLINE_SLACK_MS = 2000

const P = BigInt('0x' + DH_PRIME_HEX)
const key96 = (value: bigint): Buffer => Buffer.from(value.toString(16).padStart(192, '0'), 'hex')

function garbage (length: number): Buffer {
  const bytes = randomBytes(length)
  bytes[0] = 0x55 // never the plaintext header's 19
  return bytes
}

/** XORs `mask` into a copy of `bytes` at `offset` (RC4 is malleable: this flips the plaintext bit for bit). */
function flip (bytes: Uint8Array, offset: number, mask: number): Buffer {
  const out = Buffer.from(bytes)
  out[offset]! ^= mask
  return out
}

interface Expectation {
  code: string
  stage: string
  peerSentNoKey?: boolean
  /** When the scripted peer went quiet: the deadline is counted from here. */
  quietSince?: number
}

// ---- against a listening responder -----------------------------------------------------------------------

interface InitiatorAttack {
  name: string
  /** Plays the attacker on `peer`; returns what the server must report. */
  play (peer: RawPeer, server: MseServer): Promise<Expectation>
}

const HASHES = 40 // HASH('req1', S) and HASH('req2', SKEY) xor HASH('req3', S)
const CRYPTO_HEADER = 14 // ENCRYPT(VC, crypto_provide, len(PadC))

const INITIATOR_ATTACKS: InitiatorAttack[] = [
  {
    name: 'garbage: 1000 random bytes at once',
    async play (peer) {
      peer.write(garbage(1000))
      return { code: 'too-many-bytes', stage: 'peer-key' }
    }
  },
  {
    name: 'garbage: 200 random bytes, then 500 more after the reply (no HASH(req1) in the window)',
    async play (peer) {
      peer.write(garbage(200))
      await peer.receivedAtLeast(96, 5000) // the responder took it for a key and answered
      peer.write(garbage(500))
      return { code: 'sync-not-found', stage: 'sync' }
    }
  },
  ...[
    ['96 zero bytes (Y = 0)', 0n],
    ['Y = 1', 1n],
    ['Y = P - 1', P - 1n],
    ['Y = P', P],
    ['96 bytes of 0xff (Y > P)', (1n << 768n) - 1n]
  ].map(([name, y]): InitiatorAttack => ({
    name: `degenerate key: ${name as string}`,
    async play (peer) {
      peer.write(key96(y as bigint))
      return { code: 'degenerate-key', stage: 'peer-key' }
    }
  })),
  {
    name: 'stalls before sending anything',
    async play () {
      return { code: 'deadline-exceeded', stage: 'peer-key', quietSince: Date.now() }
    }
  },
  {
    name: 'stalls after 50 bytes of its key (and learns nothing: no reply)',
    async play (peer) {
      peer.write(new ScriptedInitiator(randomBytes(20).toString('hex')).flight1.subarray(0, 50))
      return { code: 'deadline-exceeded', stage: 'peer-key', quietSince: Date.now() }
    }
  },
  {
    name: 'stalls after flight 1 (Ya, PadA)',
    async play (peer, server) {
      peer.write(new ScriptedInitiator(server.infoHash).flight1)
      return { code: 'deadline-exceeded', stage: 'sync', quietSince: Date.now() }
    }
  },
  {
    name: 'stalls after the two hashes of flight 3',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash)
      peer.write(a.flight1)
      peer.write((await a.flight3(peer, 5000)).subarray(0, HASHES))
      return { code: 'deadline-exceeded', stage: 'crypto-header', quietSince: Date.now() }
    }
  },
  {
    name: 'stalls after VC, crypto_provide and len(PadC)',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash)
      peer.write(a.flight1)
      peer.write((await a.flight3(peer, 5000)).subarray(0, HASHES + CRYPTO_HEADER))
      return { code: 'deadline-exceeded', stage: 'crypto-header', quietSince: Date.now() }
    }
  },
  {
    name: 'closes before sending anything',
    async play (peer) {
      peer.socket.end()
      return { code: 'peer-closed', stage: 'peer-key', peerSentNoKey: true }
    }
  },
  {
    name: 'closes after 50 bytes of its key',
    async play (peer) {
      peer.socket.end(new ScriptedInitiator(randomBytes(20).toString('hex')).flight1.subarray(0, 50))
      return { code: 'peer-closed', stage: 'peer-key', peerSentNoKey: false }
    }
  },
  {
    name: 'closes after flight 1',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash)
      peer.write(a.flight1)
      await peer.receivedAtLeast(96, 5000)
      peer.socket.end()
      return { code: 'peer-closed', stage: 'sync', peerSentNoKey: false }
    }
  },
  {
    name: 'resets the connection after flight 1',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash)
      peer.write(a.flight1)
      await peer.receivedAtLeast(96, 5000)
      peer.socket.resetAndDestroy()
      return { code: 'peer-closed', stage: 'sync', peerSentNoKey: false }
    }
  },
  {
    name: 'closes after the two hashes of flight 3',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash)
      peer.write(a.flight1)
      peer.socket.end((await a.flight3(peer, 5000)).subarray(0, HASHES))
      return { code: 'peer-closed', stage: 'crypto-header', peerSentNoKey: false }
    }
  },
  {
    name: 'unknown SKEY (a torrent the server does not serve)',
    async play (peer) {
      const a = new ScriptedInitiator(randomBytes(20).toString('hex'))
      peer.write(a.flight1)
      peer.write(await a.flight3(peer, 5000))
      return { code: 'unknown-skey', stage: 'sync' }
    }
  },
  {
    name: 'flight 3 with a flipped VC bit',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash)
      peer.write(a.flight1)
      peer.write(flip(await a.flight3(peer, 5000), HASHES + 3, 0x10))
      return { code: 'bad-vc', stage: 'crypto-header' }
    }
  },
  {
    name: 'flight 3 with len(PadC) above 512',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash)
      peer.write(a.flight1)
      peer.write(flip(await a.flight3(peer, 5000), HASHES + 12, 0x80))
      return { code: 'pad-too-long', stage: 'crypto-header' }
    }
  },
  {
    name: 'flight 3 with len(IA) above 68',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash) // sends no IA: len(IA) is the last 2 bytes
      peer.write(a.flight1)
      const f3 = await a.flight3(peer, 5000)
      peer.write(flip(f3, f3.length - 2, 0x01))
      return { code: 'ia-too-long', stage: 'crypto-header' }
    }
  },
  {
    name: 'crypto_provide flipped from RC4 to plaintext on the way (server requires RC4)',
    async play (peer, server) {
      const a = new ScriptedInitiator(server.infoHash, 'required') // provides 0x02
      peer.write(a.flight1)
      peer.write(flip(await a.flight3(peer, 5000), HASHES + 11, 0x03)) // 0x02 -> 0x01
      return { code: 'no-common-method', stage: 'crypto-header' }
    }
  }
]

describe('adversarial initiators against a listening responder', function () {
  this.timeout(20_000)
  failOnUncaught()

  let server: MseServer
  before(async () => { server = await startMseServer({ policy: 'required', stageTimeoutMs: STAGE_TIMEOUT_MS }) })
  after(() => server.close())

  for (const attack of INITIATOR_ATTACKS) {
    it(`${attack.name}: the connection ends with its typed error, a healthy client is served meanwhile`, async () => {
      const peer = await RawPeer.dial(server.port)
      const port = peer.socket.localPort!
      try {
        const healthy = awaitedLater(healthyClient(server))
        const want = await attack.play(peer, server)
        const outcome = await server.outcomeFor(port, STAGE_TIMEOUT_MS * 3 + DEADLINE_SLACK_MS)
        expectFailure(outcome, want)
        if (want.quietSince !== undefined) {
          expect(outcome.at - want.quietSince, 'ms from going quiet to the deadline').to.be.below(STAGE_TIMEOUT_MS + DEADLINE_SLACK_MS)
        }
        if (attack.name.includes('learns nothing')) expect(peer.received.length, 'bytes sent to a partial key').to.equal(0)
        // The server hung up on the attacker, and released the socket.
        await peer.closedByPeer(3000)
        const connection = server.connections.find(c => c.stream.remotePort === port)!
        await closed(connection.stream, 3000, 'the server-side stream')
        await closed(connection.wire, 3000, 'the server-side Wire')
        const result = await within(healthy, 10_000, 'the healthy client')
        expect(result).to.deep.equal({ ok: true, method: 'rc4', dataOk: true })
      } finally {
        peer.socket.destroy()
      }
    })
  }

  it('twenty attackers at once (garbage, zero keys, stalls, early closes) while a healthy client is served', async () => {
    const kinds = [
      (p: RawPeer) => p.write(garbage(1000)),
      (p: RawPeer) => p.write(key96(0n)),
      (_p: RawPeer) => {},
      (p: RawPeer) => p.socket.end()
    ]
    const dialledAt = Date.now()
    const peers = await Promise.all(Array.from({ length: 20 }, async () => await RawPeer.dial(server.port)))
    try {
      const ports = peers.map(p => p.socket.localPort!)
      const healthy = awaitedLater(healthyClient(server))
      peers.forEach((p, i) => kinds[i % kinds.length]!(p))
      const outcomes = await Promise.all(ports.map(async port => await server.outcomeFor(port, STAGE_TIMEOUT_MS + DEADLINE_SLACK_MS, dialledAt)))
      expect(outcomes.map(o => o.error?.code)).to.deep.equal(peers.map((_p, i) =>
        ['too-many-bytes', 'degenerate-key', 'deadline-exceeded', 'peer-closed'][i % kinds.length]))
      await Promise.all(peers.map(async p => await p.closedByPeer(3000)))
      expect(await within(healthy, 10_000, 'the healthy client')).to.deep.equal({ ok: true, method: 'rc4', dataOk: true })
    } finally {
      for (const p of peers) p.socket.destroy()
    }
  })
})

// ---- against an initiator ----------------------------------------------------------------------------------

interface ResponderAttack {
  name: string
  play (peer: RawPeer, infoHash: string): Promise<Expectation>
}

const VC_AND_SELECT = 8 // ENCRYPT(VC) at the start of flight 4

const RESPONDER_ATTACKS: ResponderAttack[] = [
  {
    name: 'never answers',
    async play () {
      return { code: 'deadline-exceeded', stage: 'peer-key', quietSince: Date.now() }
    }
  },
  {
    name: 'closes without a byte',
    async play (peer) {
      await peer.receivedAtLeast(96, 5000)
      peer.socket.end()
      return { code: 'peer-closed', stage: 'peer-key', peerSentNoKey: true }
    }
  },
  {
    name: 'resets without a byte',
    async play (peer) {
      await peer.receivedAtLeast(96, 5000)
      peer.socket.resetAndDestroy()
      return { code: 'peer-closed', stage: 'peer-key', peerSentNoKey: true }
    }
  },
  {
    name: 'answers 1000 garbage bytes',
    async play (peer) {
      await peer.receivedAtLeast(96, 5000)
      peer.write(garbage(1000))
      return { code: 'too-many-bytes', stage: 'peer-key' }
    }
  },
  {
    name: 'answers 96 zero bytes',
    async play (peer) {
      await peer.receivedAtLeast(96, 5000)
      peer.write(key96(0n))
      return { code: 'degenerate-key', stage: 'peer-key' }
    }
  },
  {
    name: 'stalls after flight 2 (Yb, PadB)',
    async play (peer, infoHash) {
      peer.write(await new ScriptedResponder(infoHash).nextFlight(peer, 5000))
      return { code: 'deadline-exceeded', stage: 'sync', quietSince: Date.now() }
    }
  },
  {
    name: 'closes after flight 2',
    async play (peer, infoHash) {
      peer.socket.end(await new ScriptedResponder(infoHash).nextFlight(peer, 5000))
      return { code: 'peer-closed', stage: 'sync', peerSentNoKey: false }
    }
  },
  {
    name: 'flight 2 then 700 garbage bytes (no ENCRYPT(VC) in the window)',
    async play (peer, infoHash) {
      const flight2 = await new ScriptedResponder(infoHash).nextFlight(peer, 5000)
      peer.write(flight2)
      await sleep(20)
      peer.write(garbage(700))
      return { code: 'sync-not-found', stage: 'sync' }
    }
  },
  {
    name: 'stalls after ENCRYPT(VC)',
    async play (peer, infoHash) {
      const b = new ScriptedResponder(infoHash)
      peer.write(await b.nextFlight(peer, 5000))
      peer.write((await b.nextFlight(peer, 5000)).subarray(0, VC_AND_SELECT))
      return { code: 'deadline-exceeded', stage: 'crypto-header', quietSince: Date.now() }
    }
  },
  {
    name: 'closes after ENCRYPT(VC)',
    async play (peer, infoHash) {
      const b = new ScriptedResponder(infoHash)
      peer.write(await b.nextFlight(peer, 5000))
      peer.socket.end((await b.nextFlight(peer, 5000)).subarray(0, VC_AND_SELECT))
      return { code: 'peer-closed', stage: 'crypto-header', peerSentNoKey: false }
    }
  },
  {
    name: 'crypto_select flipped from RC4 to plaintext on the way (a downgrade)',
    async play (peer, infoHash) {
      const b = new ScriptedResponder(infoHash)
      peer.write(await b.nextFlight(peer, 5000))
      peer.write(flip(await b.nextFlight(peer, 5000), VC_AND_SELECT + 3, 0x03))
      return { code: 'method-not-offered', stage: 'crypto-header' }
    }
  },
  {
    name: 'flight 4 with len(PadD) above 512',
    async play (peer, infoHash) {
      const b = new ScriptedResponder(infoHash)
      peer.write(await b.nextFlight(peer, 5000))
      peer.write(flip(await b.nextFlight(peer, 5000), VC_AND_SELECT + 4, 0x80))
      return { code: 'pad-too-long', stage: 'crypto-header' }
    }
  }
]

describe('adversarial responders against an initiator', function () {
  this.timeout(20_000)
  failOnUncaught()

  for (const attack of RESPONDER_ATTACKS) {
    it(`${attack.name}: the initiator ends with its typed error and closes its Wire and socket`, async () => {
      const infoHash = randomBytes(20).toString('hex')
      const server = await rawServer()
      const socket = await dial(server.port)
      // As webtorrent does: the Wire's handshake is written at once and waits for the MSE handshake.
      const { wire, stream } = createEncryptedWire(socket, { role: 'initiator', policy: 'required', infoHash, stageTimeoutMs: STAGE_TIMEOUT_MS })
      wire.handshake(infoHash, randomBytes(20).toString('hex'))
      const healthyPair = await wirePair()
      try {
        const healthy = awaitedLater((async () => {
          await bittorrentHandshake(healthyPair)
          return await exchangeBlocks(healthyPair, 256 * 1024)
        })())
        const peer = await within(server.accepted, 5000, 'the accepted socket')
        const want = await attack.play(peer, infoHash)
        const outcome = { ...await within(stream.handshake, STAGE_TIMEOUT_MS * 3 + DEADLINE_SLACK_MS, 'the outcome'), at: Date.now() }
        expectFailure(outcome, want)
        if (want.quietSince !== undefined) {
          expect(outcome.at - want.quietSince, 'ms from going quiet to the deadline').to.be.below(STAGE_TIMEOUT_MS + DEADLINE_SLACK_MS)
        }
        await closed(stream, 3000, 'the stream')
        await closed(wire, 3000, 'the Wire')
        await closed(socket, 3000, 'the socket')
        const { sent, received } = await within(healthy, 10_000, 'the healthy pair')
        expect(received).to.deep.equal(sent)
      } finally {
        stream.destroy()
        socket.destroy()
        healthyPair.close()
        server.close()
      }
    })
  }
})

function expectFailure (outcome: MseOutcome, want: Expectation): void {
  expect(outcome.ok, 'ok').to.equal(false)
  expect(outcome.error?.code, `error code (${outcome.error?.message ?? 'no error'})`).to.equal(want.code)
  expect(outcome.failedStage, 'failed stage').to.equal(want.stage)
  expect(outcome.peerSentNoKey, 'peerSentNoKey').to.equal(want.peerSentNoKey ?? false)
}
