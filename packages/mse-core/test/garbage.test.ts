import { expect } from 'chai'
import {
  InitiatorHandshake, MseError, ResponderHandshake, type EncryptionPolicy, type HandshakeStep, type MseErrorCode
} from '../src/index.js'
import { drbg, prng } from 'test-support'
import { ManualSide } from './helpers/manual.js'
import { bittorrentHandshake, infoHashOf, makePair, makeRegistry, runPair, type PairOptions } from './helpers/pair.js'

const CODES: readonly MseErrorCode[] = [
  'degenerate-key', 'too-many-bytes', 'sync-not-found', 'unknown-skey', 'bad-vc', 'pad-too-long', 'ia-too-long',
  'no-common-method', 'method-not-offered', 'deadline-exceeded', 'plaintext-refused', 'encryption-refused',
  'peer-closed', 'internal-error', 'handshake-finished', 'negotiation-tampered'
]
const INFO_HASH = infoHashOf('garbage')

type Side = InitiatorHandshake | ResponderHandshake

function newSide (role: 'initiator' | 'responder', seed: string, policy: EncryptionPolicy = 'preferred'): Side {
  if (role === 'initiator') {
    const a = new InitiatorHandshake({ infoHash: INFO_HASH, policy, random: drbg('garbage A ' + seed) })
    a.start(0)
    return a
  }
  const b = new ResponderHandshake({ skeys: makeRegistry(INFO_HASH), policy, random: drbg('garbage B ' + seed) })
  b.start(0)
  return b
}

/** receive() that turns an escaping exception into a test failure with context, and checks the step's type. */
function receive (side: Side, data: Uint8Array, context: string): HandshakeStep {
  let step: HandshakeStep
  try {
    step = side.receive(data, 1)
  } catch (err) {
    throw new Error(`${context}: receive() threw ${(err as Error).stack}`)
  }
  checkStep(step, context)
  return step
}

function checkStep (step: HandshakeStep, context: string): void {
  expect(['pending', 'failed', 'done'], context).to.include(step.status)
  expect(step.send, context).to.be.instanceOf(Uint8Array)
  if (step.status === 'failed') {
    expect(step.error, context).to.be.instanceOf(MseError)
    expect(CODES, context).to.include(step.error.code)
    expect(step.error.code, `${context}: ${step.error.message}`).to.not.equal('internal-error')
    expect(step.error.stage, context).to.be.a('string')
  }
}

/** After garbage: the connection closes. Always a typed failure (the first error, or peer-closed). */
function closeAndCheck (side: Side, last: HandshakeStep, context: string): void {
  const closed = side.peerClosed()
  checkStep(closed, context)
  expect(closed.status, context).to.equal('failed')
  if (last.status === 'failed' && closed.status === 'failed') expect(closed.error.code).to.equal(last.error.code)
  if (last.status === 'pending' && closed.status === 'failed') expect(closed.error.code).to.equal('peer-closed')
}

describe('garbage: input that is not MSE never throws', () => {
  it('96 zero bytes fail with degenerate-key on both roles', () => {
    for (const role of ['initiator', 'responder'] as const) {
      const side = newSide(role, 'zeros')
      const step = receive(side, new Uint8Array(96), role)
      expect(step.status).to.equal('failed')
      if (step.status === 'failed') expect(step.error.code).to.equal('degenerate-key')
      closeAndCheck(side, step, role)
    }
  })

  const SIZES = [0, 1, 2, 19, 20, 21, 67, 68, 95, 96, 97, 150, 300, 607, 608, 609, 616, 628, 700, 1000, 2000, 5000]

  it(`random garbage of ${SIZES.length} sizes x 40 seeds x both roles, whole and in random chunks, then peerClosed()`, () => {
    let runs = 0
    for (const role of ['initiator', 'responder'] as const) {
      for (const size of SIZES) {
        for (let seed = 0; seed < 40; seed++) {
          const rng = prng(`garbage ${role} ${size} ${seed}`)
          const bytes = rng.bytes(size)
          const context = `${role}, ${size} bytes, seed ${seed}`
          // Whole.
          const whole = newSide(role, context)
          const step = receive(whole, bytes, context)
          expect(step.status, context).to.not.equal('done')
          closeAndCheck(whole, step, context)
          // In random chunks.
          const chunked = newSide(role, context)
          let last: HandshakeStep = { status: 'pending', send: new Uint8Array(0) }
          for (let at = 0; at < bytes.length && last.status === 'pending';) {
            const n = 1 + rng.int(200)
            last = receive(chunked, bytes.subarray(at, at + n), `${context}, chunk at ${at}`)
            at += n
          }
          expect(last.status, context).to.not.equal('done')
          expect(chunked.stage === 'failed' || last.status === 'pending').to.equal(true)
          closeAndCheck(chunked, last, context)
          runs += 2
        }
      }
    }
    expect(runs).to.be.at.least(1500)
  })

  it('a valid key followed by garbage (the resync scan path) on both roles', () => {
    let runs = 0
    for (const role of ['initiator', 'responder'] as const) {
      for (let seed = 0; seed < 300; seed++) {
        const rng = prng(`key+garbage ${role} ${seed}`)
        const key = new ManualSide(role === 'initiator' ? 'responder' : 'initiator', `kg ${seed}`).publicKey
        const garbage = rng.bytes(rng.int(1400))
        const side = newSide(role, `kg ${seed}`)
        const context = `${role}, seed ${seed}, ${garbage.length} garbage bytes`
        let step = receive(side, key, context)
        expect(step.status, context).to.equal('pending')
        if (garbage.length > 0) step = receive(side, garbage, context)
        expect(step.status, context).to.not.equal('done')
        if (step.status === 'failed') expect(['sync-not-found', 'unknown-skey', 'bad-vc']).to.include(step.error.code)
        closeAndCheck(side, step, context)
        runs++
      }
    }
    expect(runs).to.equal(600)
  })

  it('a plaintext header followed by garbage is plaintext on the responder, whatever follows', () => {
    for (let seed = 0; seed < 50; seed++) {
      const rng = prng('plain+garbage ' + seed)
      const side = newSide('responder', 'pg')
      const bytes = new Uint8Array([...bittorrentHandshake(INFO_HASH).subarray(0, 20), ...rng.bytes(rng.int(3000))])
      const step = receive(side, bytes, `seed ${seed}`)
      expect(step.status).to.equal('done')
      if (step.status === 'done') expect(step.result.payload.length).to.equal(bytes.length)
    }
  })
})

describe('garbage: truncated flights, then the peer closes', () => {
  const options: PairOptions = { infoHash: INFO_HASH, ia: bittorrentHandshake(INFO_HASH), seedA: 'truncate A', seedB: 'truncate B' }
  let full: ReturnType<typeof runPair>
  before(() => {
    full = runPair(options)
  })

  it('every strict prefix of each flight leaves the receiver pending; peerClosed() then fails with peer-closed', () => {
    expect(full.a.status).to.equal('done')
    let runs = 0
    for (const flight of [1, 2, 3, 4]) {
      const bytes = full.flights[flight]!
      for (let length = 0; length < bytes.length; length++) {
        // Replay the earlier flights in full, then only a prefix of this one, then the peer closes.
        const { initiator, responder } = makePair(options)
        initiator.start(0)
        responder.start(0)
        let receiver: Side = responder
        let step: HandshakeStep = { status: 'pending', send: new Uint8Array(0) }
        for (let f = 1; f <= flight; f++) {
          receiver = f % 2 === 1 ? responder : initiator
          const data = f === flight ? full.flights[f]!.subarray(0, length) : full.flights[f]!
          step = receive(receiver, data, `flight ${f}`)
        }
        const context = `flight ${flight} truncated to ${length}`
        expect(step.status, context).to.equal('pending')
        expect(receiver.finished).to.equal(false)
        closeAndCheck(receiver, step, context)
        runs++
      }
    }
    expect(runs).to.be.greaterThan(500)
  })
})

describe('garbage: bit flips in a valid transcript', () => {
  const combos: [EncryptionPolicy, EncryptionPolicy][] = [
    ['required', 'tolerated'],
    ['required', 'preferred'],
    ['preferred', 'required'],
    ['preferred', 'tolerated'],
    ['tolerated', 'preferred']
  ]

  function flipAt (position: number, mask: number) {
    return (bytes: Uint8Array): Uint8Array => {
      const out = bytes.slice()
      if (position < out.length) out[position]! ^= mask
      return out
    }
  }

  /** Checks a mutated run: typed outcomes, and `required` never ends done with anything but RC4. */
  function checkRun (initiatorPolicy: EncryptionPolicy, responderPolicy: EncryptionPolicy, mutate: Partial<PairOptions>, context: string): 'done' | 'failed' | 'pending' {
    const options: PairOptions = {
      initiatorPolicy,
      responderPolicy,
      infoHash: INFO_HASH,
      ia: bittorrentHandshake(INFO_HASH),
      seedA: `flip A ${initiatorPolicy}`,
      seedB: `flip B ${responderPolicy}`,
      ...mutate
    }
    let run
    try {
      run = runPair(options)
    } catch (err) {
      throw new Error(`${context}: an exception escaped: ${(err as Error).stack}`)
    }
    checkStep(run.a, context + ' (initiator)')
    checkStep(run.b, context + ' (responder)')
    const encrypted = ['rc4', 'aes-128-ctr']
    if (run.a.status === 'done' && initiatorPolicy === 'required') expect(encrypted, context).to.include(run.a.result.method)
    if (run.b.status === 'done' && responderPolicy === 'required') expect(encrypted, context).to.include(run.b.result.method)
    if (run.a.status === 'done' && run.b.status === 'done' && run.a.result.method !== run.b.result.method) {
      // The one way the two can disagree: a damaged extension confirmation in PadD (A cannot tell it from
      // another client's pad, so it keeps RC4 while B switched to AES). Both still encrypt; the first
      // payload message fails to parse and the connection closes. Never plaintext.
      expect(mutate.mutateFlight4, context).to.not.equal(undefined)
      expect([run.a.result.method, run.b.result.method], context).to.deep.equal(['rc4', 'aes-128-ctr'])
    }
    for (const [side, step] of [[run.initiator, run.a], [run.responder, run.b]] as const) {
      if (step.status !== 'done') closeAndCheck(side, step, context)
    }
    return run.a.status
  }

  for (const [initiatorPolicy, responderPolicy] of combos) {
    it(`${initiatorPolicy} initiator / ${responderPolicy} responder: a flipped bit at each byte of flights 3 and 4`, () => {
      const base = runPair({
        initiatorPolicy,
        responderPolicy,
        infoHash: INFO_HASH,
        ia: bittorrentHandshake(INFO_HASH),
        seedA: `flip A ${initiatorPolicy}`,
        seedB: `flip B ${responderPolicy}`
      })
      expect(base.a.status).to.equal('done')
      const rng = prng(`flips ${initiatorPolicy} ${responderPolicy}`)
      const outcomes = { done: 0, failed: 0, pending: 0 }
      for (const flight of [3, 4] as const) {
        const length = base.flights[flight]!.length
        for (let position = 0; position < length; position++) {
          const mask = 1 << rng.int(8)
          const key = flight === 3 ? 'mutateFlight3' : 'mutateFlight4'
          outcomes[checkRun(initiatorPolicy, responderPolicy, { [key]: flipAt(position, mask) }, `flight ${flight}, byte ${position}, mask ${mask}`)]++
        }
      }
      // Every bit of crypto_provide (flight 3, bytes 48..51) and crypto_select (flight 4, bytes 8..11).
      for (let bit = 0; bit < 32; bit++) {
        const byte = 3 - (bit >> 3)
        const mask = 1 << (bit & 7)
        checkRun(initiatorPolicy, responderPolicy, { mutateFlight3: flipAt(48 + byte, mask) }, `crypto_provide bit ${bit}`)
        checkRun(initiatorPolicy, responderPolicy, { mutateFlight4: flipAt(8 + byte, mask) }, `crypto_select bit ${bit}`)
      }
      // Flips must actually reach every outcome: some are harmless (pads, IA), most are fatal.
      expect(outcomes.failed).to.be.greaterThan(0)
      expect(outcomes.done).to.be.greaterThan(0)
    })
  }

  it('the known downgrade (plain spec, no extension): crypto_provide 0x03 -> 0x01 gives plaintext only when the initiator allowed it', () => {
    // Bit 1 of the last provide byte flipped: 0x03 becomes 0x01 (preferred), 0x02 becomes 0x00 (required).
    const flip = flipAt(51, 0x02)
    const preferred = runPair({
      initiatorPolicy: 'preferred', responderPolicy: 'preferred', infoHash: INFO_HASH, seedA: 'dg A', seedB: 'dg B', mutateFlight3: flip, extension: false
    })
    expect(preferred.a.status).to.equal('done')
    if (preferred.a.status === 'done') expect(preferred.a.result.method).to.equal('plaintext-after-mse')
    const required = runPair({
      initiatorPolicy: 'required', responderPolicy: 'preferred', infoHash: INFO_HASH, seedA: 'dg A', seedB: 'dg B', mutateFlight3: flip, extension: false
    })
    expect(required.b.status).to.equal('failed')
    if (required.b.status === 'failed') expect(required.b.error.code).to.equal('no-common-method')
    // 0x02 -> 0x03 (bit 0) with a tolerated responder: it selects plaintext, the required initiator refuses.
    const upgrade = runPair({
      initiatorPolicy: 'required', responderPolicy: 'tolerated', infoHash: INFO_HASH, seedA: 'dg A', seedB: 'dg B', mutateFlight3: flipAt(51, 0x01), extension: false
    })
    expect(upgrade.b.status).to.equal('done')
    if (upgrade.b.status === 'done') expect(upgrade.b.result.method).to.equal('plaintext-after-mse')
    expect(upgrade.a.status).to.equal('failed')
    if (upgrade.a.status === 'failed') expect(upgrade.a.error.code).to.equal('method-not-offered')
  })

  it('flips in flights 1 and 2 (keys and pads) never throw; a flipped key never completes', () => {
    const base = runPair({ infoHash: INFO_HASH, seedA: 'f12 A', seedB: 'f12 B' })
    const rng = prng('flips 1 2')
    for (const flight of [1, 2]) {
      const length = base.flights[flight]!.length
      for (let position = 0; position < length; position += 1 + rng.int(3)) {
        const mask = 1 << rng.int(8)
        const run = runPair({ infoHash: INFO_HASH, seedA: 'f12 A', seedB: 'f12 B' }, (f, bytes) => f === flight ? [flipAt(position, mask)(bytes)] : [bytes])
        const context = `flight ${flight}, byte ${position}`
        checkStep(run.a, context)
        checkStep(run.b, context)
        if (position < 96) {
          // A different key means a different S: the handshake cannot complete.
          expect(run.a.status === 'done' && run.b.status === 'done', context).to.equal(false)
        }
      }
    }
  })
})
