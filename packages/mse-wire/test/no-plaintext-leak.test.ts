/**
 * `required` never puts a plaintext BitTorrent byte on the wire, whatever the peer does. A relay records
 * every byte our side writes to its socket; the Wire on our side writes its handshake (and more) eagerly,
 * before anything is known about the peer, as webtorrent does.
 */
import { expect } from 'chai'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { SkeyRegistry } from 'mse-core'
import { createEncryptedWire, type EncryptedWire } from '../src/index.js'
import { PLAINTEXT_HEADER, byteByByte, closed, contains, dial, failOnUncaught, listen, startRelay, within } from 'test-support'
import { RawPeer, rawServer } from './peers.js'

const STAGE_TIMEOUT_MS = 300

function plaintextHandshake (infoHash: string): Buffer {
  return Buffer.concat([PLAINTEXT_HEADER, Buffer.alloc(8), Buffer.from(infoHash, 'hex'), randomBytes(20)])
}

/** A bitfield and a few have messages: what a plaintext peer sends right after its handshake. */
function plaintextOpening (): Buffer {
  const bitfield = Buffer.from([0, 0, 0, 5, 5, 0xff, 0xff, 0xff, 0xf0])
  const haves = Array.from({ length: 4 }, (_, i) => Buffer.from([0, 0, 0, 5, 4, 0, 0, 0, i]))
  return Buffer.concat([bitfield, ...haves])
}

/** Writes what an eager application writes at once: handshake, bitfield, interested, a piece. */
function eagerWire (connection: EncryptedWire, infoHash: string): void {
  connection.wire.handshake(infoHash, randomBytes(20).toString('hex'))
  connection.wire.bitfield(Buffer.from([0xff]))
  connection.wire.interested()
  connection.wire.piece(0, 0, randomBytes(1024))
}

function expectNoPlaintext (written: Buffer): void {
  expect(written.subarray(0, PLAINTEXT_HEADER.length).equals(PLAINTEXT_HEADER), 'starts with the plaintext header').to.equal(false)
  expect(contains(written, PLAINTEXT_HEADER), 'contains the plaintext header').to.equal(false)
}

describe('required never writes a plaintext BitTorrent byte', function () {
  this.timeout(20_000)
  failOnUncaught()

  const plaintextResponders: Array<{ name: string, code: string, act: (peer: RawPeer, infoHash: string) => Promise<void> }> = [
    {
      name: 'answers at once with its plaintext handshake and bitfield, then waits',
      code: 'plaintext-reply',
      async act (peer, infoHash) { peer.write(Buffer.concat([plaintextHandshake(infoHash), plaintextOpening()])) }
    },
    {
      name: 'answers our first bytes with its plaintext handshake only, then waits',
      code: 'plaintext-reply',
      async act (peer, infoHash) {
        await peer.receivedAtLeast(1, 5000)
        peer.write(plaintextHandshake(infoHash))
      }
    },
    {
      name: 'answers our first bytes with its plaintext handshake and hangs up',
      code: 'plaintext-reply',
      async act (peer, infoHash) {
        await peer.receivedAtLeast(1, 5000)
        peer.socket.end(plaintextHandshake(infoHash))
      }
    },
    {
      name: 'answers with its handshake followed by a long stream of messages',
      code: 'plaintext-reply',
      async act (peer, infoHash) {
        peer.write(Buffer.concat([plaintextHandshake(infoHash), plaintextOpening(), ...Array.from({ length: 100 }, () => plaintextOpening())]))
      }
    }
  ]

  for (const responder of plaintextResponders) {
    it(`initiator vs a plaintext-only responder that ${responder.name}`, async () => {
      const infoHash = randomBytes(20).toString('hex')
      const server = await rawServer()
      const relay = await startRelay(server.port)
      const socket = await dial(relay.port)
      const connection = createEncryptedWire(socket, { role: 'initiator', policy: 'required', infoHash, stageTimeoutMs: STAGE_TIMEOUT_MS })
      let wireSawHandshake = false
      connection.wire.on('handshake', () => { wireSawHandshake = true })
      try {
        eagerWire(connection, infoHash)
        const peer = await within(server.accepted, 5000, 'the accepted socket')
        await responder.act(peer, infoHash)
        const outcome = await within(connection.stream.handshake, 5000, 'the outcome')
        expect(outcome.ok).to.equal(false)
        expect(outcome.error?.code).to.equal(responder.code)
        await closed(socket, 3000, 'our socket')
        await closed(connection.wire, 3000, 'our Wire')
        // The relay passes our close on to the peer only after capturing every byte we wrote before it.
        await peer.closedByPeer(3000)
        const written = Buffer.concat(relay.captured.up)
        expect(written.length).to.be.greaterThan(0)
        expectNoPlaintext(written)
        expect(wireSawHandshake, 'the peer plaintext handshake reached our Wire').to.equal(false)
      } finally {
        connection.stream.destroy()
        relay.close()
        server.close()
      }
    })
  }

  async function responderBehindRelay (policy: 'required' | 'preferred', infoHash: string, splitFirstBytes = false): Promise<{ relay: Awaited<ReturnType<typeof startRelay>>, connection: Promise<EncryptedWire>, close: () => void }> {
    const skeys = new SkeyRegistry()
    skeys.add(infoHash)
    let accepted!: (connection: EncryptedWire) => void
    const connection = new Promise<EncryptedWire>(resolve => { accepted = resolve })
    const sockets: net.Socket[] = []
    const { server, port } = await listen(socket => {
      sockets.push(socket)
      const c = createEncryptedWire(socket, { role: 'responder', policy, skeys, stageTimeoutMs: STAGE_TIMEOUT_MS })
      eagerWire(c, infoHash)
      accepted(c)
    })
    const relay = await startRelay(port, splitFirstBytes ? { up: byteByByte(68) } : {})
    return { relay, connection, close () { relay.close(); server.close(); for (const s of sockets) s.destroy() } }
  }

  for (const split of [false, true]) {
    it(`responder receiving a plaintext handshake${split ? ' one byte per segment' : ''}: plaintext-refused, nothing written`, async () => {
      const infoHash = randomBytes(20).toString('hex')
      const setup = await responderBehindRelay('required', infoHash, split)
      try {
        const peer = await RawPeer.dial(setup.relay.port)
        peer.write(Buffer.concat([plaintextHandshake(infoHash), plaintextOpening()]))
        const connection = await within(setup.connection, 5000, 'the accepted connection')
        const outcome = await within(connection.stream.handshake, 5000, 'the outcome')
        expect(outcome.ok).to.equal(false)
        expect(outcome.error?.code).to.equal('plaintext-refused')
        await peer.closedByPeer(3000)
        await closed(connection.wire, 3000, 'the responder Wire')
        // peer.closedByPeer: the relay closed our raw peer only after capturing all the responder wrote.
        const written = Buffer.concat(setup.relay.captured.down)
        expectNoPlaintext(written)
        expect(written.length, 'bytes the responder wrote').to.equal(0)
        expect(peer.received.length).to.equal(0)
      } finally {
        setup.close()
      }
    })
  }

  it('control: a preferred responder answers the same plaintext handshake in plaintext (the capture sees it)', async () => {
    const infoHash = randomBytes(20).toString('hex')
    const setup = await responderBehindRelay('preferred', infoHash)
    try {
      const peer = await RawPeer.dial(setup.relay.port)
      peer.write(Buffer.concat([plaintextHandshake(infoHash), plaintextOpening()]))
      const connection = await within(setup.connection, 5000, 'the accepted connection')
      const outcome = await within(connection.stream.handshake, 5000, 'the outcome')
      expect(outcome.method).to.equal('plaintext')
      await peer.receivedAtLeast(68, 5000)
      expect(peer.received.subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(true)
      expect(Buffer.concat(setup.relay.captured.down).subarray(0, 20).equals(PLAINTEXT_HEADER)).to.equal(true)
    } finally {
      setup.close()
    }
  })

  it('a required initiator cannot be told to connect in plaintext, and writes nothing', async () => {
    const server = await rawServer()
    const socket = await dial(server.port)
    try {
      expect(() => createEncryptedWire(socket, { role: 'initiator', policy: 'required', infoHash: randomBytes(20).toString('hex'), connect: 'plaintext' }))
        .to.throw(TypeError, /required/)
      const peer = await within(server.accepted, 5000, 'the accepted socket')
      // A flush marker: the peer sees our FIN only after every byte written before it.
      socket.end()
      await peer.closedByPeer(3000)
      expect(peer.received.length).to.equal(0)
    } finally {
      socket.destroy()
      server.close()
    }
  })
})
