import { expect } from 'chai'
import { InitiatorHandshake, ResponderHandshake, SkeyRegistry, type HandshakeStep } from '../src/index.js'
import { concat, drbg, hex, sha1 } from 'test-support'
import { ManualSide } from './helpers/manual.js'
import { bittorrentHandshake, infoHashOf, runPair } from './helpers/pair.js'
import { expectDone } from './helpers/roles.js'

/**
 * Buffer ownership (see the Rc4 buffer contract: bittorrent-protocol once scrambled a live bitfield by
 * encrypting in place). What the handshake keeps, it copies; what it hands out, the caller may change
 * without corrupting later handshakes.
 */
describe('buffers: the handshake does not alias caller buffers', () => {
  const infoHash = infoHashOf('buffers')

  it('receive() never modifies the chunk it is given, in any stage', () => {
    const run = runPair({ infoHash, ia: bittorrentHandshake(infoHash), seedA: 'buf A', seedB: 'buf B' })
    const a = new InitiatorHandshake({ infoHash, initialPayload: bittorrentHandshake(infoHash), random: drbg('buf A') })
    const registry = new SkeyRegistry()
    registry.add(infoHash)
    const b = new ResponderHandshake({ skeys: registry, random: drbg('buf B') })
    b.start(0)
    const flights = [a.start(0).send]
    for (let k = 0; k < 4; k++) {
      const chunk = flights[k]!
      const copy = chunk.slice()
      const step = (k % 2 === 0 ? b : a).receive(chunk, k + 1)
      expect(hex(chunk), `flight ${k + 1}`).to.equal(hex(copy))
      flights.push(step.send)
    }
    expect(hex(flights[3]!)).to.equal(hex(run.flights[4]!))
  })

  it('receive() copies what it buffers: the caller may reuse its read buffer right away', () => {
    const baseline = runPair({ infoHash, ia: bittorrentHandshake(infoHash), seedA: 'reuse A', seedB: 'reuse B' })
    // Deliver every flight in 7-byte pieces through ONE reused buffer that is scribbled over after each call.
    const scratch = new Uint8Array(7)
    const a = new InitiatorHandshake({ infoHash, initialPayload: bittorrentHandshake(infoHash), random: drbg('reuse A') })
    const registry = new SkeyRegistry()
    registry.add(infoHash)
    const b = new ResponderHandshake({ skeys: registry, random: drbg('reuse B') })
    b.start(0)
    let flight = a.start(0).send
    let last: HandshakeStep | undefined
    for (let k = 0; k < 4; k++) {
      const side = k % 2 === 0 ? b : a
      const sent: Uint8Array[] = []
      for (let at = 0; at < flight.length; at += 7) {
        const n = Math.min(7, flight.length - at)
        scratch.set(flight.subarray(at, at + n))
        last = side.receive(scratch.subarray(0, n), k + 1)
        scratch.fill(0xa5)
        sent.push(last.send)
      }
      flight = concat(...sent)
      expect(hex(flight), `answer to flight ${k + 1}`).to.equal(hex(baseline.flights[k + 2] ?? new Uint8Array(0)))
    }
    expect(last!.status).to.equal('done')
  })

  it('SkeyRegistry: mutating a looked-up SKEY (or a result\'s infoHash) does not corrupt the registry', () => {
    const registry = new SkeyRegistry()
    registry.add(infoHash)
    const found = registry.lookup(sha1('req2', infoHash))!
    found.fill(0)
    expect(hex(registry.lookup(sha1('req2', infoHash))!)).to.equal(hex(infoHash))
  })

  it('InitiatorHandshake: changing the infoHash buffer after construction does not change the SKEY used', () => {
    const caller = infoHash.slice()
    const a = new InitiatorHandshake({ infoHash: caller, random: drbg('alias A') })
    const flight1 = a.start(0).send
    caller.fill(0xee) // the caller reuses its buffer
    const b = new ManualSide('responder', 'alias')
    b.setPeerKey(flight1.subarray(0, 96), infoHash)
    const flight3 = a.receive(b.publicKey, 1).send
    const req2 = flight3.subarray(20, 40).map((x, k) => x ^ sha1('req3', b.secret!)[k]!)
    expect(hex(req2)).to.equal(hex(sha1('req2', infoHash)))
  })

  it('InitiatorHandshake: changing the initialPayload buffer after construction does not change the IA sent', () => {
    const ia = bittorrentHandshake(infoHash)
    const caller = ia.slice()
    const a = new InitiatorHandshake({ infoHash, initialPayload: caller, random: drbg('alias IA') })
    const flight1 = a.start(0).send
    caller.fill(0) // e.g. a reused write buffer
    const b = new ManualSide('responder', 'alias IA')
    b.setPeerKey(flight1.subarray(0, 96), infoHash)
    const flight3 = a.receive(b.publicKey, 1).send
    const plain = b.in!.crypt(flight3.subarray(40))
    expect(hex(plain.subarray(plain.length - 68))).to.equal(hex(ia))
    const done = expectDone(a.receive(b.out!.crypt(concat(new Uint8Array(8), Uint8Array.of(0, 0, 0, 2, 0, 0))), 2))
    expect(done.result.initialPayloadLength).to.equal(68)
  })
})
