import { expect } from 'chai'
import type { EncryptionPolicy, HandshakeStep } from '../src/index.js'
import { byteByByte, bittorrentHandshake, infoHashOf, makePair, runPair, splitAt, stepSummary, type PairOptions, type PairRun } from './helpers/pair.js'
import { concat, hex } from 'test-support'

interface Combo {
  name: string
  initiatorPolicy: EncryptionPolicy
  responderPolicy: EncryptionPolicy
  ia: boolean
  method: 'rc4' | 'aes-128-ctr' | 'plaintext-after-mse'
  /** This project's PadC/PadD extension (default on); off = the plain spec both ways. */
  extension?: boolean
}

const COMBOS: Combo[] = [
  { name: 'preferred/preferred with IA', initiatorPolicy: 'preferred', responderPolicy: 'preferred', ia: true, method: 'aes-128-ctr' },
  { name: 'required/required without IA', initiatorPolicy: 'required', responderPolicy: 'required', ia: false, method: 'aes-128-ctr' },
  { name: 'preferred/tolerated with IA', initiatorPolicy: 'preferred', responderPolicy: 'tolerated', ia: true, method: 'plaintext-after-mse' },
  { name: 'tolerated/required with IA', initiatorPolicy: 'tolerated', responderPolicy: 'required', ia: true, method: 'aes-128-ctr' },
  { name: 'preferred/preferred with IA, plain spec', initiatorPolicy: 'preferred', responderPolicy: 'preferred', ia: true, method: 'rc4', extension: false },
  { name: 'required/required without IA, plain spec', initiatorPolicy: 'required', responderPolicy: 'required', ia: false, method: 'rc4', extension: false }
]

const PAYLOAD_A = new TextEncoder().encode('first message from A, right after IA')
const PAYLOAD_B = new TextEncoder().encode('first message from B, right after PadD')

function done (step: HandshakeStep): Extract<HandshakeStep, { status: 'done' }> {
  expect(step.status, step.status === 'failed' ? step.error.message : '').to.equal('done')
  return step as Extract<HandshakeStep, { status: 'done' }>
}

/** Options for a combo, with each side's first payload appended in wire form to flights 3 and 4. */
function withPayloads (combo: Combo): { options: PairOptions, baseline: PairRun } {
  const infoHash = infoHashOf('splits ' + combo.name)
  const options: PairOptions = {
    initiatorPolicy: combo.initiatorPolicy,
    responderPolicy: combo.responderPolicy,
    seedA: 'splits A ' + combo.name,
    seedB: 'splits B ' + combo.name,
    infoHash,
    ia: combo.ia ? bittorrentHandshake(infoHash) : undefined,
    extension: combo.extension
  }
  // A first run gives each side's stream right after the handshake; runs are deterministic.
  const first = runPair(options)
  const a = done(first.a).result
  const b = done(first.b).result
  expect(a.method).to.equal(combo.method)
  const full: PairOptions = {
    ...options,
    afterFlight3: a.encryptor ? a.encryptor.clone().process(PAYLOAD_A) : PAYLOAD_A,
    afterFlight4: b.encryptor ? b.encryptor.clone().process(PAYLOAD_B) : PAYLOAD_B
  }
  return { options: full, baseline: runPair(full) }
}

function compareRuns (run: PairRun, baseline: PairRun, what: string): void {
  for (let k = 1; k <= 4; k++) {
    expect(hex(run.flights[k] ?? new Uint8Array(0)), `${what}: flight ${k} sent`).to.equal(hex(baseline.flights[k]!))
  }
  expect(stepSummary(run.a, run.lateA), `${what}: initiator`).to.deep.equal(stepSummary(baseline.a, baseline.lateA))
  expect(stepSummary(run.b, run.lateB), `${what}: responder`).to.deep.equal(stepSummary(baseline.b, baseline.lateB))
}

describe('splits: every flight split at every byte position, and byte by byte', () => {
  for (const combo of COMBOS) {
    describe(combo.name, () => {
      let options: PairOptions
      let baseline: PairRun
      before(() => {
        ({ options, baseline } = withPayloads(combo))
      })

      it('the baseline delivers each side\'s first payload decrypted, once', () => {
        const a = done(baseline.a).result
        const b = done(baseline.b).result
        expect(a.method).to.equal(combo.method)
        expect(b.method).to.equal(combo.method)
        expect(hex(b.infoHash!)).to.equal(hex(options.infoHash))
        const ia = options.ia ?? new Uint8Array(0)
        expect(hex(b.payload)).to.equal(hex(concat(ia, PAYLOAD_A)))
        expect(hex(a.payload)).to.equal(hex(PAYLOAD_B))
        expect(b.initialPayloadLength).to.equal(ia.length)
        // Streams continue right after that payload: the next message decrypts (keystream used exactly once).
        const next = new TextEncoder().encode('second message')
        if (combo.method !== 'plaintext-after-mse') {
          // Clones: the baseline's streams stay where they are for the comparisons below.
          const aEnc = a.encryptor!.clone()
          const bEnc = b.encryptor!.clone()
          aEnc.skip(PAYLOAD_A.length)
          expect(hex(b.decryptor!.clone().process(aEnc.process(next)))).to.equal(hex(next))
          bEnc.skip(PAYLOAD_B.length)
          expect(hex(a.decryptor!.clone().process(bEnc.process(next)))).to.equal(hex(next))
        } else {
          expect(a.decryptor).to.equal(undefined)
          expect(b.decryptor).to.equal(undefined)
        }
      })

      for (const flight of [1, 2, 3, 4]) {
        it(`flight ${flight} split into two receive() calls at every position gives the same handshake`, () => {
          const length = flight === 3
            ? baseline.flights[3]!.length + PAYLOAD_A.length
            : flight === 4 ? baseline.flights[4]!.length + PAYLOAD_B.length : baseline.flights[flight]!.length
          for (let position = 0; position <= length; position++) {
            compareRuns(runPair(options, splitAt(flight, position)), baseline, `flight ${flight} split at ${position}`)
          }
        })
      }

      it('every flight delivered byte by byte gives the same handshake', () => {
        compareRuns(runPair(options, byteByByte), baseline, 'byte by byte')
      })
    })
  }
})

const SEEDS_WITH_LONG_FLIGHTS = ['coalesce 0', 'coalesce 4', 'coalesce 5']

describe('splits: coalesced flights', () => {
  // A may send flight 3 as soon as it has B's key. If B sent its key before it had read all of flight 1,
  // the rest of flight 1 and flight 3 can reach B in one chunk. That is a legal peer, not "more than 608
  // bytes before our next step".
  // Seeds chosen (searched once, deterministic) so that flight 1 + flight 3 exceed 608 bytes and, for the
  // second pair, flight 2 + flight 4 exceed 608 bytes too; the test asserts that property itself.
  const seeds = SEEDS_WITH_LONG_FLIGHTS

  for (const seed of seeds) {
    it(`the tail of flight 1 and flight 3 in one chunk (${seed})`, () => {
      const infoHash = infoHashOf(seed)
      const options: PairOptions = { seedA: seed + ' A', seedB: seed + ' B', infoHash, ia: bittorrentHandshake(infoHash) }
      const baseline = runPair(options)
      done(baseline.b)
      expect(baseline.flights[1]!.length + baseline.flights[3]!.length).to.be.greaterThan(608)
      const flight1 = baseline.flights[1]!
      let applicable = 0
      for (let position = 1; position < flight1.length; position++) {
        const { initiator, responder } = makePair(options)
        expect(hex(initiator.start(0).send)).to.equal(hex(flight1))
        responder.start(0)
        const first = responder.receive(flight1.subarray(0, position), 1)
        expect(first.status).to.equal('pending')
        // Only when B has answered can A send flight 3 (B may wait for all of Ya before answering).
        if (first.send.length === 0) continue
        applicable++
        const flight3 = initiator.receive(first.send, 2)
        expect(hex(flight3.send)).to.equal(hex(baseline.flights[3]!))
        const step = responder.receive(concat(flight1.subarray(position), flight3.send), 3)
        expect(step.status, `flight 1 cut at ${position}: ${step.status === 'failed' ? step.error.message : ''}`).to.equal('done')
        expect(stepSummary(step)).to.deep.equal(stepSummary(baseline.b))
      }
      // Positions >= 96 always apply (B has all of Ya and must answer).
      expect(applicable).to.be.at.least(flight1.length - 96)
    })

    it(`the tail of flight 2 and flight 4 in one chunk (${seed})`, () => {
      const infoHash = infoHashOf(seed)
      const options: PairOptions = { seedA: seed + ' A', seedB: seed + ' B', infoHash }
      const baseline = runPair(options)
      done(baseline.a)
      expect(baseline.flights[2]!.length + baseline.flights[4]!.length).to.be.greaterThan(608)
      const flight2 = baseline.flights[2]!
      let applicable = 0
      for (let position = 1; position < flight2.length; position++) {
        const { initiator, responder } = makePair(options)
        responder.start(0)
        const flight1 = initiator.start(0).send
        expect(hex(responder.receive(flight1, 1).send)).to.equal(hex(flight2))
        const first = initiator.receive(flight2.subarray(0, position), 2)
        expect(first.status).to.equal('pending')
        if (first.send.length === 0) continue
        applicable++
        const flight4 = responder.receive(first.send, 3)
        expect(flight4.status).to.equal('done')
        const step = initiator.receive(concat(flight2.subarray(position), flight4.send), 4)
        expect(step.status, `flight 2 cut at ${position}: ${step.status === 'failed' ? step.error.message : ''}`).to.equal('done')
        expect(stepSummary(step)).to.deep.equal(stepSummary(baseline.a))
      }
      expect(applicable).to.equal(flight2.length - 96)
    })
  }
})
