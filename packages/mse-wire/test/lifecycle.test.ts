/**
 * Ends, closes and destroys, both ways through socket <-> MseStream <-> Wire: nothing is left half alive,
 * the handshake promise always settles, and a clean end delivers every byte before 'end'.
 */
import { expect } from 'chai'
import net from 'node:net'
import { randomBytes, createHash } from 'node:crypto'
import { createEncryptedWire, type MseOutcome } from '../src/index.js'
import { bittorrentHandshake, exchangeBlocks, streamPair, wirePair } from './helpers.js'
import { awaitedLater, closed, dial, failOnUncaught, nextEvent, seededBytes, sleep, within } from 'test-support'
import { rawServer } from './peers.js'

describe('destroy and close propagation', function () {
  this.timeout(20_000)
  failOnUncaught()

  async function openPair (): Promise<Awaited<ReturnType<typeof wirePair>>> {
    const pair = await wirePair({ initiator: { policy: 'required' } })
    await bittorrentHandshake(pair)
    return pair
  }

  it('destroying the Wire closes its socket, and the peer\'s Wire and socket', async () => {
    const pair = await openPair()
    try {
      pair.initiator.wire.destroy()
      await closed(pair.sockets.outgoing, 3000, 'the initiator socket')
      await closed(pair.initiator.stream, 3000, 'the initiator stream')
      await closed(pair.responder.wire, 3000, 'the responder Wire')
      await closed(pair.sockets.incoming, 3000, 'the responder socket')
    } finally {
      pair.close()
    }
  })

  it('destroying the socket destroys the Wire (and the peer\'s)', async () => {
    const pair = await openPair()
    try {
      pair.sockets.outgoing.destroy()
      await closed(pair.initiator.stream, 3000, 'the initiator stream')
      await closed(pair.initiator.wire, 3000, 'the initiator Wire')
      await closed(pair.responder.wire, 3000, 'the responder Wire')
    } finally {
      pair.close()
    }
  })

  it('destroying the MseStream destroys the socket and the Wire', async () => {
    const pair = await openPair()
    try {
      pair.initiator.stream.destroy()
      await closed(pair.sockets.outgoing, 3000, 'the initiator socket')
      await closed(pair.initiator.wire, 3000, 'the initiator Wire')
    } finally {
      pair.close()
    }
  })

  it('a socket error after open destroys the stream (with the error) and the Wire', async () => {
    const pair = await openPair()
    try {
      const streamError = awaitedLater(nextEvent(pair.initiator.stream, 'error', 3000))
      pair.sockets.outgoing.destroy(new Error('boom'))
      const [error] = await streamError
      expect((error as Error).message).to.equal('boom')
      await closed(pair.initiator.stream, 3000, 'the initiator stream')
      await closed(pair.initiator.wire, 3000, 'the initiator Wire')
      await closed(pair.responder.wire, 3000, 'the responder Wire')
    } finally {
      pair.close()
    }
  })

  it('a socket error while writes wait for drain (the peer stopped reading) still destroys the Wire', async () => {
    const pair = await openPair()
    try {
      // The peer stops reading: the initiator's writes back up until its stream waits for 'drain'.
      pair.sockets.incoming.pause()
      pair.responder.stream.pause()
      pair.initiator.wire.unchoke()
      const block = randomBytes(16 * 1024)
      await within((async () => {
        for (let i = 0; !pair.sockets.outgoing.writableNeedDrain; i++) {
          for (let k = 0; k < 64; k++) pair.initiator.wire.piece(i, k * block.length, block)
          await sleep(5)
        }
      })(), 10_000, 'the socket to need drain')
      await sleep(50)
      pair.sockets.outgoing.destroy(new Error('reset while blocked'))
      await closed(pair.initiator.stream, 3000, 'the initiator stream')
      await closed(pair.initiator.wire, 3000, 'the initiator Wire')
    } finally {
      pair.close()
    }
  })

  it('a clean end delivers every byte before \'end\', even to a slow reader', async () => {
    const pair = await streamPair({ initiator: { policy: 'required' }, responder: { policy: 'required' } })
    try {
      await within(Promise.all([pair.initiator.handshake, pair.responder.handshake]), 10_000, 'outcomes')
      const total = 4 * 1024 * 1024
      const data = seededBytes(total, 'end')
      const hash = createHash('sha256')
      let received = 0
      pair.responder.on('data', (chunk: any) => {
        hash.update(chunk)
        received += chunk.length
        pair.responder.pause()
        setTimeout(() => pair.responder.resume(), 1)
      })
      const ended = awaitedLater(nextEvent(pair.responder, 'end', 15_000))
      await within((async () => {
        for (let at = 0; at < total; at += 64 * 1024) {
          if (!pair.initiator.write(data.subarray(at, at + 64 * 1024))) await new Promise<void>(resolve => pair.initiator.once('drain', () => resolve()))
        }
        pair.initiator.end(undefined)
      })(), 10_000, 'the writer')
      await ended.catch(error => { throw new Error(`no 'end' after ${received} of ${total} bytes: ${(error as Error).message}`) })
      expect(received).to.equal(total)
      expect(hash.digest('hex')).to.equal(createHash('sha256').update(data).digest('hex'))
    } finally {
      pair.close()
    }
  })

  it('after a clean end through the Wires, both sides close', async () => {
    const pair = await openPair()
    try {
      const { sent, received } = await exchangeBlocks(pair, 512 * 1024)
      expect(received).to.deep.equal(sent)
      pair.initiator.wire.end(undefined)
      await closed(pair.responder.wire, 3000, 'the responder Wire')
      await closed(pair.initiator.wire, 3000, 'the initiator Wire')
      await closed(pair.sockets.outgoing, 3000, 'the initiator socket')
      await closed(pair.sockets.incoming, 3000, 'the responder socket')
    } finally {
      pair.close()
    }
  })
})

describe('destroyed mid-handshake', function () {
  this.timeout(20_000)
  failOnUncaught()

  /** Our initiator against a peer that accepts and says nothing (so the handshake stays pending). */
  async function pendingInitiator (writeHandshake: boolean): Promise<{ socket: net.Socket, connection: ReturnType<typeof createEncryptedWire>, close: () => void }> {
    const server = await rawServer()
    const socket = await dial(server.port)
    const infoHash = randomBytes(20).toString('hex')
    const connection = createEncryptedWire(socket, { role: 'initiator', policy: 'required', infoHash })
    if (writeHandshake) connection.wire.handshake(infoHash, randomBytes(20).toString('hex'))
    const peer = await within(server.accepted, 5000, 'the accepted socket')
    await peer.receivedAtLeast(96, 5000) // flight 1 went out: the handshake is waiting for the peer's key
    return { socket, connection, close () { connection.stream.destroy(); socket.destroy(); server.close() } }
  }

  function expectAborted (outcome: MseOutcome, stage: string): void {
    expect(outcome.ok).to.equal(false)
    expect(outcome.error?.code).to.equal('aborted')
    // A failure always names its stage (MseFailure.failedStage = error.stage).
    expect(outcome.failedStage).to.equal(stage)
  }

  for (const writeHandshake of [false, true]) {
    it(`stream.destroy() resolves the handshake with aborted and closes socket and Wire (${writeHandshake ? 'with' : 'without'} a Wire handshake waiting)`, async () => {
      const setup = await pendingInitiator(writeHandshake)
      try {
        const event = awaitedLater(nextEvent(setup.connection.stream, 'handshake', 3000))
        setup.connection.stream.destroy()
        expectAborted(await within(setup.connection.stream.handshake, 3000, 'the handshake promise'), 'peer-key')
        const [reported] = await event
        expect((reported as MseOutcome).error?.code).to.equal('aborted') // reported once, the same way
        await closed(setup.socket, 3000, 'the socket')
        await closed(setup.connection.wire, 3000, 'the Wire')
      } finally {
        setup.close()
      }
    })
  }

  it('the responder: stream.destroy() before the peer\'s key resolves with aborted', async () => {
    const pair = await streamPair()
    try {
      // The initiator's key is on its way; destroy the responder at once, before reading it.
      pair.responder.destroy()
      const outcome = await within(pair.responder.handshake, 3000, 'the handshake promise')
      expect(outcome.ok).to.equal(false)
      expect(outcome.error?.code).to.equal('aborted')
      await closed(pair.sockets.incoming, 3000, 'the responder socket')
      const initiator = await within(pair.initiator.handshake, 3000, 'the initiator outcome')
      expect(initiator.error?.code).to.equal('peer-closed')
    } finally {
      pair.close()
    }
  })

  it('destroying the socket mid-handshake settles the handshake and closes the Wire', async () => {
    const setup = await pendingInitiator(true)
    try {
      setup.socket.destroy()
      const outcome = await within(setup.connection.stream.handshake, 3000, 'the handshake promise')
      expect(outcome.ok).to.equal(false)
      expect(outcome.error?.code).to.be.oneOf(['peer-closed', 'aborted'])
      await closed(setup.connection.wire, 3000, 'the Wire')
    } finally {
      setup.close()
    }
  })

  it('Wire.destroy() mid-handshake: the handshake settles and the socket is closed', async () => {
    // bittorrent-protocol's destroy() is end(): the stream is asked to finish, not destroyed.
    const pair = await wirePair({ initiator: { policy: 'required', stageTimeoutMs: 300 } })
    try {
      pair.initiator.wire.handshake(pair.infoHash, randomBytes(20).toString('hex'))
      pair.initiator.wire.destroy()
      await within(pair.initiator.stream.handshake, 3000, 'the handshake promise')
      await closed(pair.sockets.outgoing, 3000, 'the initiator socket')
      await closed(pair.initiator.wire, 3000, 'the initiator Wire')
      await closed(pair.sockets.incoming, 3000, 'the responder socket')
    } finally {
      pair.close()
    }
  })

  it('a handshake promise settles exactly once, and late socket errors are swallowed', async () => {
    const setup = await pendingInitiator(true)
    try {
      const events: MseOutcome[] = []
      setup.connection.stream.on('handshake', (o: any) => { events.push(o as MseOutcome) })
      setup.connection.stream.destroy()
      setup.socket.emit('error', new Error('late error after destroy'))
      // Whatever the late error could still set off has run once the stream and its socket have closed.
      await closed(setup.connection.stream, 3000, 'the stream')
      await closed(setup.socket, 3000, 'the socket')
      await new Promise(resolve => setImmediate(resolve))
      expect(events).to.have.length(1)
      expect(events[0]!.error?.code).to.equal('aborted')
    } finally {
      setup.close()
    }
  })
})
