/**
 * Flow shape: the handshake flights leave in socket writes of random sizes, not one write per flight.
 * The raw sockets' write() calls are recorded over many real handshakes on 127.0.0.1.
 */
import { expect } from 'chai'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { SkeyRegistry } from 'mse-core'
import { MseStream } from '../src/index.js'
import { MAX_FLIGHT_WRITES, scatterFlight } from '../src/flight-scatter.js'
import { dial, listen, within } from 'test-support'

describe('flow shape: handshake flights in random-sized socket writes', function () {
  this.timeout(60_000)

  it('scatterFlight keeps every byte in order, in 1..4 non-empty pieces at random cuts', () => {
    const bytes = randomBytes(700)
    const counts = new Map<number, number>()
    const firstSizes = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const pieces = scatterFlight(bytes)
      expect(Buffer.concat(pieces).equals(bytes)).to.equal(true)
      for (const piece of pieces) expect(piece.length).to.be.greaterThan(0)
      counts.set(pieces.length, (counts.get(pieces.length) ?? 0) + 1)
      firstSizes.add(pieces[0]!.length)
    }
    // Each piece count 1..4 about a quarter of the time (2000 draws: 500 expected, far from 300).
    for (let n = 1; n <= MAX_FLIGHT_WRITES; n++) expect(counts.get(n) ?? 0, `${n} pieces`).to.be.above(300)
    expect(firstSizes.size, 'distinct sizes of the first piece').to.be.above(300)
    expect(scatterFlight(Uint8Array.of(7)).map(p => [...p])).to.deep.equal([[7]])
  })

  it('over 40 real handshakes, the first write of each role has many sizes and flights are often split', async () => {
    const infoHash = randomBytes(20).toString('hex')
    const skeys = new SkeyRegistry()
    skeys.add(infoHash)
    const firstWrite = { initiator: new Set<number>(), responder: new Set<number>() }
    let splitFlights = 0
    let accept!: (socket: net.Socket) => void
    const { server, port } = await listen(socket => accept(socket))
    try {
      for (let i = 0; i < 40; i++) {
        const accepted = new Promise<net.Socket>(resolve => { accept = resolve })
        const outgoing = await dial(port)
        const incoming = await within(accepted, 5000, 'the accepted socket')
        const writes = { initiator: record(outgoing), responder: record(incoming) }
        const initiator = new MseStream(outgoing, { role: 'initiator', infoHash })
        const responder = new MseStream(incoming, { role: 'responder', skeys })
        const [a, b] = await within(Promise.all([initiator.handshake, responder.handshake]), 10_000, 'both handshakes')
        expect(a.ok && b.ok, 'handshake').to.equal(true)
        firstWrite.initiator.add(writes.initiator[0]!)
        firstWrite.responder.add(writes.responder[0]!)
        // Each role sends two flights without IA here: more writes than that means a flight was split.
        if (writes.initiator.length > 2 || writes.responder.length > 2) splitFlights++
        // The bytes written are exactly the handshake bytes each side reports.
        expect(sum(writes.initiator)).to.equal(a.handshakeBytesSent)
        expect(sum(writes.responder)).to.equal(b.handshakeBytesSent)
        initiator.destroy()
        responder.destroy()
      }
    } finally {
      server.close()
    }
    console.log(`      distinct first-write sizes: initiator ${firstWrite.initiator.size}/40, responder ${firstWrite.responder.size}/40; handshakes with a split flight: ${splitFlights}/40`)
    expect(firstWrite.initiator.size).to.be.above(20)
    expect(firstWrite.responder.size).to.be.above(20)
    expect(splitFlights).to.be.above(20)
  })
})

/** Records the size of every write() to the socket (the calls, before the kernel merges anything). */
function record (socket: net.Socket): number[] {
  const sizes: number[] = []
  const write = socket.write.bind(socket)
  socket.write = ((chunk: any, ...rest: any[]) => {
    sizes.push(chunk.length)
    return write(chunk, ...rest)
  }) as typeof socket.write
  return sizes
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)
