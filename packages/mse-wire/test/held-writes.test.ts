import { expect } from 'chai'
import net from 'node:net'
import { MseStream } from '../src/index.js'
import { dial, failOnUncaught, listen } from 'test-support'

/**
 * Writes made before the handshake completes wait for it with their callbacks held, so a writer feels
 * backpressure at the high-water mark: what is buffered before the handshake stays under that bound.
 * (Reads before the handshake are bounded by the spec's windows, in mse-core.)
 */
describe('writes held during the handshake', () => {
  failOnUncaught()
  const sockets: net.Socket[] = []
  let server: net.Server | undefined
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy()
    server?.close()
  })

  /** An initiator whose peer accepts the connection and never answers: the handshake stays pending. */
  async function stalledInitiator (): Promise<MseStream> {
    const listening = await listen(socket => { sockets.push(socket); socket.on('data', () => {}) })
    server = listening.server
    const socket = await dial(listening.port)
    sockets.push(socket)
    return new MseStream(socket, { role: 'initiator', policy: 'required', infoHash: 'aa'.repeat(20) })
  }

  it('a writer that respects backpressure stays far below it (write() returns false at the high-water mark)', async () => {
    const stream = await stalledInitiator()
    let accepted = 0
    for (let i = 0; i < 1000; i++) {
      accepted += 1024
      if (!stream.write(new Uint8Array(1024))) break
    }
    expect(stream.destroyed).to.equal(false)
    expect(stream.isOpen, 'the handshake is still pending').to.equal(false)
    // streamx's default high-water mark is 16 KiB: write() says stop long before anything grows.
    expect(accepted).to.be.at.most(64 * 1024)
    stream.destroy()
  })
})
