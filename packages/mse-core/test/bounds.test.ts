import { expect } from 'chai'
import {
  CONFIRM_LENGTH, InitiatorHandshake, MseError, OFFER_LENGTH, ResponderHandshake, SkeyRegistry, type EncryptionPolicy, type HandshakeStep
} from '../src/index.js'
import { P, concat, drbg, fromBig, hex, sha1 } from 'test-support'
import { buildFlight3, buildFlight4, ManualSide } from './helpers/manual.js'
import { bittorrentHandshake, infoHashOf, makeRegistry } from './helpers/pair.js'
import {
  INFO_HASH, expectDone, expectFailed, expectPending, initiatorAfterKey, newInitiator, newResponder, responderAfterKey
} from './helpers/roles.js'

const IA = bittorrentHandshake(INFO_HASH)
const enc = new TextEncoder()

/** Feeds bytes one at a time; returns the 1-based index of the byte on which the handshake ended, and the step. */
function feedByteByByte (side: { receive: (d: Uint8Array, now: number) => HandshakeStep }, bytes: Uint8Array, now = 2): { at: number, step: HandshakeStep } {
  let step: HandshakeStep = { status: 'pending', send: new Uint8Array(0) }
  for (let k = 0; k < bytes.length; k++) {
    step = side.receive(bytes.subarray(k, k + 1), now)
    if (step.status !== 'pending') return { at: k + 1, step }
  }
  return { at: -1, step }
}

/** Decrypts flight 4 as A: VC, crypto_select, len(PadD), PadD. */
function readFlight4 (a: ManualSide, flight4: Uint8Array): { vc: string, select: number, padD: Uint8Array } {
  const header = a.in!.crypt(flight4.subarray(0, 14))
  const padLength = (header[12]! << 8) | header[13]!
  const padD = a.in!.crypt(flight4.subarray(14, 14 + padLength))
  expect(flight4.length).to.equal(14 + padLength)
  return { vc: hex(header.subarray(0, 8)), select: Buffer.from(header).readUInt32BE(8), padD }
}

describe('bounds: resynchronisation windows', () => {
  it('responder: HASH(\'req1\', S) ending at byte 628 of A\'s stream (PadA 512) succeeds', () => {
    const { a, b } = responderAfterKey()
    const padA = a.randomBytes(512)
    const flight3 = buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x03, ia: IA })
    expect(96 + padA.length + 20).to.equal(628)
    const done = expectDone(b.receive(concat(padA, flight3), 2))
    expect(done.result.method).to.equal('rc4')
    expect(hex(done.result.payload)).to.equal(hex(IA))
  })

  it('responder: ending at byte 629 (PadA 513) fails with sync-not-found', () => {
    const { a, b } = responderAfterKey()
    const padA = a.randomBytes(513)
    const flight3 = buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x03, ia: IA })
    expectFailed(b.receive(concat(padA, flight3), 2), 'sync-not-found')
  })

  it('responder, byte by byte: PadA 513 fails on stream byte 628; PadA 512 completes at the last byte of flight 3', () => {
    {
      const { a, b } = responderAfterKey()
      const bytes = concat(a.randomBytes(513), buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x03 }))
      const { at, step } = feedByteByByte(b, bytes)
      expectFailed(step, 'sync-not-found')
      expect(96 + at).to.equal(628)
    }
    {
      const { a, b } = responderAfterKey()
      const bytes = concat(a.randomBytes(512), buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x03 }))
      const { at, step } = feedByteByByte(b, bytes)
      expectDone(step)
      expect(at).to.equal(bytes.length)
    }
  })

  it('initiator: ENCRYPT(VC) ending at byte 616 of B\'s stream (PadB 512) succeeds', () => {
    const { a, b } = initiatorAfterKey()
    const padB = b.randomBytes(512)
    expect(96 + padB.length + 8).to.equal(616)
    const done = expectDone(a.receive(concat(padB, buildFlight4(b, { select: 0x02 })), 2))
    expect(done.result.method).to.equal('rc4')
  })

  it('initiator: ending at byte 617 (PadB 513) fails with sync-not-found', () => {
    const { a, b } = initiatorAfterKey()
    const padB = b.randomBytes(513)
    expectFailed(a.receive(concat(padB, buildFlight4(b, { select: 0x02 })), 2), 'sync-not-found')
  })

  it('initiator, byte by byte: PadB 513 fails on stream byte 616; PadB 512 completes at the last byte of flight 4', () => {
    {
      const { a, b } = initiatorAfterKey()
      const { at, step } = feedByteByByte(a, concat(b.randomBytes(513), buildFlight4(b, { select: 0x02 })))
      expectFailed(step, 'sync-not-found')
      expect(96 + at).to.equal(616)
    }
    {
      const { a, b } = initiatorAfterKey()
      const bytes = concat(b.randomBytes(512), buildFlight4(b, { select: 0x02, padDLength: 3 }))
      const { at, step } = feedByteByByte(a, bytes)
      expectDone(step)
      expect(at).to.equal(bytes.length)
    }
  })
})

describe('bounds: at most 608 bytes before our reply', () => {
  it('responder: 608 bytes (Ya + 512) in the first chunk are answered; 609 fail with too-many-bytes', () => {
    {
      const b = newResponder()
      b.start(0)
      const a = new ManualSide('initiator', 'tmb 608')
      const step = b.receive(a.keyFlight(512), 1)
      expectPending(step)
      expect(step.send.length).to.be.at.least(96)
      a.setPeerKey(step.send.subarray(0, 96), INFO_HASH)
      expectDone(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02 }), 2))
    }
    {
      const b = newResponder()
      b.start(0)
      const step = b.receive(new ManualSide('initiator', 'tmb 609').keyFlight(513), 1)
      expectFailed(step, 'too-many-bytes')
      expect(step.send.length).to.equal(0)
    }
  })

  it('responder: the bound counts every byte up to the one that completes Ya (95 + 513 ok, 95 + 514 not)', () => {
    for (const [tail, ok] of [[513, true], [514, false]] as const) {
      const b = newResponder()
      b.start(0)
      const flight1 = new ManualSide('initiator', 'tmb split').keyFlight(95 + tail - 96)
      expectPending(b.receive(flight1.subarray(0, 95), 1))
      const step = b.receive(flight1.subarray(95, 95 + tail), 2)
      if (ok) expectPending(step)
      else expectFailed(step, 'too-many-bytes')
    }
  })

  it('initiator: 608 bytes (Yb + 512) in the first chunk are answered; 609 fail with too-many-bytes', () => {
    {
      const a = newInitiator()
      const flight1 = a.start(0).send
      const b = new ManualSide('responder', 'tmb 608')
      b.setPeerKey(flight1.subarray(0, 96), INFO_HASH)
      const step = a.receive(b.keyFlight(512), 1)
      expectPending(step)
      expect(step.send.length).to.be.greaterThan(40)
      expectDone(a.receive(buildFlight4(b, { select: 0x02 }), 2))
    }
    {
      const a = newInitiator()
      a.start(0)
      const step = a.receive(new ManualSide('responder', 'tmb 609').keyFlight(513), 1)
      expectFailed(step, 'too-many-bytes')
      expect(step.send.length).to.equal(0)
    }
  })
})

describe('bounds: pad lengths', () => {
  it('responder: len(PadC) 512 is accepted, 513 and 65535 fail with pad-too-long', () => {
    {
      const { a, b } = responderAfterKey()
      expectDone(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02, padCLength: 512, ia: IA }), 2))
    }
    for (const field of [513, 65535]) {
      const { a, b } = responderAfterKey()
      expectFailed(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02, padCLength: 0, padCLengthField: field }), 2), 'pad-too-long', `len ${field}`)
    }
  })

  it('initiator: len(PadD) 512 is accepted, 513 and 65535 fail with pad-too-long', () => {
    {
      const { a, b } = initiatorAfterKey()
      expectDone(a.receive(buildFlight4(b, { select: 0x02, padDLength: 512 }), 2))
    }
    for (const field of [513, 65535]) {
      const { a, b } = initiatorAfterKey()
      expectFailed(a.receive(buildFlight4(b, { select: 0x02, padDLengthField: field }), 2), 'pad-too-long', `len ${field}`)
    }
  })
})

describe('bounds: IA length', () => {
  const iaOf = (n: number): Uint8Array => drbg('ia ' + n)(n)

  it('by default len(IA) 0 and 68 are accepted and delivered; 69 fails with ia-too-long', () => {
    for (const n of [0, 68]) {
      const { a, b } = responderAfterKey()
      const ia = iaOf(n)
      const done = expectDone(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02, ia }), 2))
      expect(hex(done.result.payload)).to.equal(hex(ia))
      expect(done.result.initialPayloadLength).to.equal(n)
    }
    const { a, b } = responderAfterKey()
    expectFailed(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02, ia: iaOf(69) }), 2), 'ia-too-long')
  })

  it('maxInitialPayload moves the bound (100 ok / 101 not; 0 ok / 1 not; 65535 allows 1000)', () => {
    for (const [max, n, ok] of [[100, 100, true], [100, 101, false], [0, 0, true], [0, 1, false], [65535, 1000, true]] as const) {
      const { a, b } = responderAfterKey({ maxInitialPayload: max })
      const ia = iaOf(n)
      const step = b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02, ia }), 2)
      if (ok) expect(hex(expectDone(step, `max ${max}, IA ${n}`).result.payload)).to.equal(hex(ia))
      else expectFailed(step, 'ia-too-long', `max ${max}, IA ${n}`)
    }
  })

  it('the length field alone decides: len(IA) 69 fails before the 69 bytes arrive', () => {
    const { a, b } = responderAfterKey()
    const flight3 = buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02, ia: new Uint8Array(0), iaLengthField: 69 })
    expectFailed(b.receive(flight3, 2), 'ia-too-long')
  })

  it('maxInitialPayload outside 0..65535 or not an integer throws RangeError', () => {
    for (const max of [-1, 65536, 1.5, Number.NaN]) {
      expect(() => newResponder({ maxInitialPayload: max }), String(max)).to.throw(RangeError)
    }
  })

  it('an initiator IA of a length other than 0 or 68 throws RangeError at construction and in setInitialPayload', () => {
    for (const n of [1, 19, 67, 69, 100, 65535]) {
      expect(() => newInitiator({ initialPayload: new Uint8Array(n) }), `length ${n}`).to.throw(RangeError)
      expect(() => newInitiator().setInitialPayload(new Uint8Array(n)), `setInitialPayload ${n}`).to.throw(RangeError)
    }
    expect(() => newInitiator({ initialPayload: new Uint8Array(0) })).not.to.throw()
    expect(() => newInitiator({ initialPayload: new Uint8Array(68) })).not.to.throw()
  })

  it('setInitialPayload works until flight 3 is sent, then returns false', () => {
    const a = newInitiator()
    const flight1 = a.start(0).send
    expect(a.setInitialPayload(IA)).to.equal(true)
    const b = new ManualSide('responder', 'set ia')
    b.setPeerKey(flight1.subarray(0, 96), INFO_HASH)
    const flight3 = a.receive(b.publicKey, 1).send
    expect(a.setInitialPayload(IA)).to.equal(false)
    // Flight 3 carries the IA set late, encrypted at its end.
    const encryptedTail = b.in!.crypt(flight3.subarray(40))
    expect(hex(encryptedTail.subarray(encryptedTail.length - 70))).to.equal(hex(concat(Uint8Array.of(0, 68), IA)))
  })
})

describe('bounds: SKEY, VC and crypto methods', () => {
  it('an SKEY we do not serve fails with unknown-skey', () => {
    const other = infoHashOf('not served')
    const { a, b } = responderAfterKey({}, other)
    expectFailed(b.receive(buildFlight3(a, { req2Skey: other, provide: 0x02 }), 2), 'unknown-skey')
  })

  it('a known SKEY in req2 but streams keyed with another SKEY fail with bad-vc', () => {
    const { a, b } = responderAfterKey({}, infoHashOf('other key'))
    expectFailed(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02 }), 2), 'bad-vc')
  })

  it('a corrupted VC (any single bit of its 8 bytes) fails with bad-vc', () => {
    for (let bit = 0; bit < 64; bit += 9) {
      const { a, b } = responderAfterKey()
      const mask = new Uint8Array(8)
      mask[bit >> 3] = 1 << (bit & 7)
      expectFailed(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02, vcMask: mask }), 2), 'bad-vc', `bit ${bit}`)
    }
  })

  it('crypto_provide with no acceptable method fails with no-common-method', () => {
    const cases: [EncryptionPolicy, number][] = [
      ['required', 0], ['preferred', 0], ['tolerated', 0],
      ['required', 0x01], ['required', 0xfffffffd],
      ['preferred', 0xfffffffc], ['tolerated', 0x80000000]
    ]
    for (const [policy, provide] of cases) {
      const { a, b } = responderAfterKey({ policy })
      expectFailed(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide }), 2), 'no-common-method', `${policy} 0x${provide.toString(16)}`)
    }
  })

  it('reserved bits in crypto_provide are ignored; crypto_select on the wire is exactly one bit', () => {
    const cases: [EncryptionPolicy, number, number][] = [
      ['required', 0xfffffffe, 0x02], ['preferred', 0xfffffffe, 0x02], ['tolerated', 0xfffffffe, 0x02],
      ['required', 0xffffffff, 0x02], ['preferred', 0xffffffff, 0x02], ['tolerated', 0xffffffff, 0x01],
      ['preferred', 0x80000001, 0x01], ['tolerated', 0x00010002, 0x02]
    ]
    for (const [policy, provide, select] of cases) {
      const { a, b } = responderAfterKey({ policy })
      const step = expectDone(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide, ia: IA }), 2), `${policy} 0x${provide.toString(16)}`)
      expect(step.result.cryptoProvide).to.equal(provide)
      expect(step.result.cryptoSelect).to.equal(select)
      expect(step.result.method).to.equal(select === 0x02 ? 'rc4' : 'plaintext-after-mse')
      const wire = readFlight4(a, step.send)
      expect(wire.vc).to.equal('0000000000000000')
      expect(wire.select).to.equal(select)
      expect(wire.padD.length).to.be.at.most(512)
      // PadD: the extension confirmation (opaque to other clients) when it fits, zeros after it.
      expect(wire.padD.subarray(CONFIRM_LENGTH).every(x => x === 0)).to.equal(true)
      expect(hex(step.result.payload)).to.equal(hex(IA))
    }
  })

  it('initiator: a crypto_select that was not offered fails with method-not-offered', () => {
    const cases: [EncryptionPolicy, number][] = [
      ['required', 0x01], ['required', 0x03], ['required', 0x00], ['required', 0x04],
      ['preferred', 0x03], ['preferred', 0x00], ['preferred', 0x04], ['preferred', 0x06],
      ['tolerated', 0x03], ['tolerated', 0x80000000]
    ]
    for (const [policy, select] of cases) {
      const { a, b } = initiatorAfterKey({ policy })
      expectFailed(a.receive(buildFlight4(b, { select }), 2), 'method-not-offered', `${policy} 0x${select.toString(16)}`)
    }
  })

  it('initiator: an offered crypto_select is accepted and decides the method', () => {
    const cases: [EncryptionPolicy, number, string][] = [
      ['required', 0x02, 'rc4'], ['preferred', 0x02, 'rc4'], ['preferred', 0x01, 'plaintext-after-mse'], ['tolerated', 0x01, 'plaintext-after-mse']
    ]
    for (const [policy, select, method] of cases) {
      const { a, b } = initiatorAfterKey({ policy })
      const payload = enc.encode('payload after PadD')
      const flight4 = buildFlight4(b, { select, padDLength: 7 })
      const wire = select === 0x02 ? b.out!.crypt(payload) : payload
      const done = expectDone(a.receive(concat(flight4, wire), 2), `${policy} ${select}`)
      expect(done.result.method).to.equal(method)
      expect(done.result.cryptoSelect).to.equal(select)
      expect(hex(done.result.payload)).to.equal(hex(payload))
    }
  })
})

describe('bounds: degenerate peer keys', () => {
  const keys: [string, Uint8Array][] = [
    ['0', fromBig(0n)],
    ['1', fromBig(1n)],
    ['P-1', fromBig(P - 1n)],
    ['P', fromBig(P)],
    ['P+1', fromBig(P + 1n)],
    ['all 0xff', new Uint8Array(96).fill(0xff)]
  ]

  for (const [name, key] of keys) {
    it(`Y = ${name} fails with degenerate-key on both roles, before anything is sent`, () => {
      const b = newResponder()
      b.start(0)
      const rStep = b.receive(concat(key, new Uint8Array(10)), 1)
      expectFailed(rStep, 'degenerate-key', 'responder')
      expect(rStep.send.length).to.equal(0)

      const a = newInitiator()
      a.start(0)
      const iStep = a.receive(key, 1)
      expectFailed(iStep, 'degenerate-key', 'initiator')
      expect(iStep.send.length).to.equal(0)
    })
  }

  it('Y = 2 and Y = P-2 are accepted (the edges of the valid range)', () => {
    for (const y of [fromBig(2n), fromBig(P - 2n)]) {
      const b = newResponder()
      b.start(0)
      expectPending(b.receive(y, 1))
      const a = newInitiator()
      a.start(0)
      expectPending(a.receive(y, 1))
    }
  })
})

describe('bounds: deadlines', () => {
  it('initiator: deadline is start + 30 s by default; expire() before it does nothing, at it fails', () => {
    const a = newInitiator()
    expect(a.deadline).to.equal(undefined)
    a.start(1000)
    expect(a.deadline).to.equal(31_000)
    expect(a.expire(30_999)).to.equal(undefined)
    expect(a.stage).to.equal('peer-key')
    const step = a.expire(31_000)!
    expectFailed(step, 'deadline-exceeded')
    if (step.status === 'failed') {
      expect(step.error).to.be.instanceOf(MseError)
      expect(step.error.stage).to.equal('peer-key')
    }
    expect(a.stage).to.equal('failed')
    expect(a.deadline).to.equal(undefined)
    expect(a.expire(50_000)).to.equal(undefined)
  })

  it('expire() after the deadline fails too', () => {
    const b = newResponder({ stageTimeoutMs: 10 })
    b.start(0)
    expectFailed(b.expire(1_000_000)!, 'deadline-exceeded')
  })

  it('receive() at or after the deadline fails with deadline-exceeded and consumes nothing', () => {
    for (const late of [0, 1, 5000]) {
      const b = newResponder({ stageTimeoutMs: 100 })
      b.start(0)
      const step = b.receive(new ManualSide('initiator', 'late').publicKey, 100 + late)
      expectFailed(step, 'deadline-exceeded')
      expect(step.send.length).to.equal(0)
    }
    const b = newResponder({ stageTimeoutMs: 100 })
    b.start(0)
    expectPending(b.receive(new ManualSide('initiator', 'late').publicKey, 99))
  })

  it('initiator: each stage gets a fresh deadline from the time it was entered', () => {
    const { a, b } = initiatorAfterKey({ stageTimeoutMs: 5000 }, 'fresh', 4000)
    expect(a.stage).to.equal('sync')
    expect(a.deadline).to.equal(9000)
    // ENCRYPT(VC) and 2 more bytes: crypto-header stage, entered at 8000.
    const flight4 = buildFlight4(b, { select: 0x02 })
    expectPending(a.receive(flight4.subarray(0, 10), 8000))
    expect(a.stage).to.equal('crypto-header')
    expect(a.deadline).to.equal(13_000)
    expect(a.expire(12_999)).to.equal(undefined)
    const step = a.expire(13_000)!
    expectFailed(step, 'deadline-exceeded')
    if (step.status === 'failed') expect(step.error.stage).to.equal('crypto-header')
  })

  it('responder: each stage gets a fresh deadline from the time it was entered', () => {
    const { a, b } = responderAfterKey({ stageTimeoutMs: 1000 }, INFO_HASH, 'fresh', 700)
    expect(b.stage).to.equal('sync')
    expect(b.deadline).to.equal(1700)
    const flight3 = buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02, ia: IA })
    expectPending(b.receive(flight3.subarray(0, 45), 1600))
    expect(b.stage).to.equal('crypto-header')
    expect(b.deadline).to.equal(2600)
    expectPending(b.receive(flight3.subarray(45, 60), 2599))
    expect(b.deadline).to.equal(2600)
    expectFailed(b.receive(flight3.subarray(60), 2600), 'deadline-exceeded')
  })

  it('stageTimeoutMs per stage applies to the named stage only', () => {
    const timeouts = { 'peer-key': 100, sync: 200, 'crypto-header': 300 }
    const a = newInitiator({ stageTimeoutMs: timeouts })
    a.start(0)
    expect(a.deadline).to.equal(100)
    const { a: a2 } = initiatorAfterKey({ stageTimeoutMs: timeouts }, 'per stage', 50)
    expect(a2.deadline).to.equal(250)
    const { b } = responderAfterKey({ stageTimeoutMs: { sync: 7 } }, INFO_HASH, 'per stage', 10)
    expect(b.deadline).to.equal(17)
    const fresh = newResponder({ stageTimeoutMs: { sync: 7 } })
    fresh.start(0)
    expect(fresh.deadline).to.equal(30_000)
  })

  it('a finished handshake has no deadline', () => {
    const { a, b } = initiatorAfterKey()
    expectDone(a.receive(buildFlight4(b, { select: 0x02 }), 2))
    expect(a.deadline).to.equal(undefined)
    expect(a.expire(Number.MAX_SAFE_INTEGER)).to.equal(undefined)
  })
})

describe('bounds: peer closed, and input after the end', () => {
  it('peerClosed() before the end fails with peer-closed, in every stage of both roles', () => {
    const b0 = newResponder()
    b0.start(0)
    expectFailed(b0.peerClosed(), 'peer-closed')
    const b1 = newResponder()
    b1.start(0)
    b1.receive(new Uint8Array(50).fill(7), 1)
    expectFailed(b1.peerClosed(), 'peer-closed')
    const { b: b2 } = responderAfterKey()
    const closed = b2.peerClosed()
    expectFailed(closed, 'peer-closed')
    if (closed.status === 'failed') expect(closed.error.stage).to.equal('sync')
    const { a: a1 } = initiatorAfterKey()
    expectFailed(a1.peerClosed(), 'peer-closed')
    const a0 = newInitiator()
    a0.start(0)
    expectFailed(a0.peerClosed(), 'peer-closed')
  })

  it('peerClosed() after done returns the done step; after failure, the failure', () => {
    const { a, b } = initiatorAfterKey()
    const done = expectDone(a.receive(buildFlight4(b, { select: 0x02 }), 2))
    const again = a.peerClosed()
    expect(again.status).to.equal('done')
    if (again.status === 'done') expect(again.result).to.equal(done.result)
    const failed = newResponder()
    failed.start(0)
    expectFailed(failed.receive(fromBig(0n), 1), 'degenerate-key')
    expectFailed(failed.peerClosed(), 'degenerate-key')
  })

  it('receive() after done or failed returns handshake-finished and changes nothing', () => {
    const { a, b } = initiatorAfterKey()
    expectDone(a.receive(buildFlight4(b, { select: 0x02 }), 2))
    const received = a.bytesReceived
    expectFailed(a.receive(Uint8Array.of(1, 2, 3), 3), 'handshake-finished')
    expect(a.stage).to.equal('done')
    expect(a.finished).to.equal(true)
    expect(a.bytesReceived).to.equal(received)
    expect(a.peerClosed().status).to.equal('done')

    const r = newResponder()
    r.start(0)
    expectFailed(r.receive(fromBig(1n), 1), 'degenerate-key')
    expectFailed(r.receive(new Uint8Array(5), 2), 'handshake-finished')
    expect(r.stage).to.equal('failed')
  })

  it('start() twice throws', () => {
    const a = newInitiator()
    a.start(0)
    expect(() => a.start(1)).to.throw()
    const b = newResponder()
    b.start(0)
    expect(() => b.start(1)).to.throw()
  })
})

describe('bounds: plaintext BitTorrent handshakes on the responder', () => {
  const header = bittorrentHandshake(infoHashOf('plain'))
  const bytes = concat(header, enc.encode('bitfield!'))

  for (const policy of ['preferred', 'tolerated', 'disabled'] as const) {
    it(`${policy}: the 20-byte header split anywhere gives method plaintext with every byte as payload`, () => {
      for (let cut = 0; cut <= bytes.length; cut++) {
        const b = newResponder({ policy })
        b.start(0)
        const first = b.receive(bytes.subarray(0, cut), 1)
        const step = first.status === 'done' ? first : b.receive(bytes.subarray(cut), 2)
        const done = expectDone(step, `cut ${cut}`)
        expect(done.result.method).to.equal('plaintext')
        expect(done.send.length).to.equal(0)
        expect(b.bytesSent).to.equal(0)
        // Everything the peer sent is payload; when the header completed in the first chunk, the rest
        // arrives after the end (the caller's own stream).
        const payload = first.status === 'done' ? concat(done.result.payload, bytes.subarray(cut)) : done.result.payload
        expect(hex(payload), `cut ${cut}`).to.equal(hex(bytes))
        expect(cut >= 20 || first.status === 'pending').to.equal(true)
        expect(done.result.infoHash).to.equal(undefined)
        expect(done.result.encryptor).to.equal(undefined)
      }
    })
  }

  it('byte by byte: pending for 19 bytes, done on the 20th', () => {
    const b = newResponder()
    b.start(0)
    const { at, step } = feedByteByByte(b, header)
    expect(at).to.equal(20)
    expect(hex(expectDone(step).result.payload)).to.equal(hex(header.subarray(0, 20)))
  })

  it('required: a plaintext handshake fails with plaintext-refused on the 20th byte', () => {
    const b = newResponder({ policy: 'required' })
    b.start(0)
    const { at, step } = feedByteByByte(b, header)
    expect(at).to.equal(20)
    expectFailed(step, 'plaintext-refused')
    expect(b.bytesSent).to.equal(0)
  })

  it('19 matching bytes then a different one are not plaintext: treated as a key (answered only at 96 bytes)', () => {
    const fake = concat(header.subarray(0, 19), Uint8Array.of(0x4c), drbg('fake key')(76))
    const b = newResponder()
    b.start(0)
    const first = b.receive(fake.subarray(0, 95), 1)
    expectPending(first)
    expect(first.send.length).to.equal(0)
    const step = b.receive(fake.subarray(95), 2)
    expectPending(step)
    expect(step.send.length).to.be.at.least(96)
  })

  it('disabled: an MSE key fails with encryption-refused, without answering', () => {
    const b = newResponder({ policy: 'disabled' })
    b.start(0)
    const step = b.receive(new ManualSide('initiator', 'refused').keyFlight(30), 1)
    expectFailed(step, 'encryption-refused')
    expect(step.send.length).to.equal(0)
  })

  it('disabled: an initiator cannot be constructed', () => {
    expect(() => newInitiator({ policy: 'disabled' })).to.throw(TypeError)
  })

  it('an unknown policy is refused at construction', () => {
    expect(() => newInitiator({ policy: 'sometimes' as EncryptionPolicy })).to.throw(TypeError)
    expect(() => newResponder({ policy: 'sometimes' as EncryptionPolicy })).to.throw(TypeError)
  })
})

describe('bounds: the hand-built peer is the protocol (sanity of the test oracle)', () => {
  it('a hand-built A and the ResponderHandshake agree on S and both streams', () => {
    const { a, b } = responderAfterKey()
    const done = expectDone(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x03, padCLength: 33, ia: IA }), 2))
    const flight4 = readFlight4(a, done.send)
    expect(flight4.select).to.equal(0x02)
    const message = enc.encode('A to B after the handshake')
    expect(hex(done.result.decryptor!.process(a.out!.crypt(message)))).to.equal(hex(message))
    const reply = enc.encode('B to A after the handshake')
    expect(hex(a.in!.crypt(done.result.encryptor!.process(reply)))).to.equal(hex(reply))
  })

  it('a hand-built B reads the InitiatorHandshake\'s flight 3 field by field', () => {
    const { b, flight3 } = initiatorAfterKey({ initialPayload: IA })
    const s = b.secret!
    expect(hex(flight3.subarray(0, 20))).to.equal(hex(sha1('req1', s)))
    const req2 = Buffer.from(flight3.subarray(20, 40)).map((x, k) => x ^ sha1('req3', s)[k]!)
    expect(hex(req2)).to.equal(hex(sha1('req2', INFO_HASH)))
    const plain = b.in!.crypt(flight3.subarray(40))
    expect(hex(plain.subarray(0, 8))).to.equal('0000000000000000')
    expect(Buffer.from(plain).readUInt32BE(8)).to.equal(0x03)
    const padC = Buffer.from(plain).readUInt16BE(12)
    expect(padC).to.be.at.most(512)
    // PadC: the extension offer when it fits, zeros after it.
    expect(plain.subarray(14 + Math.min(padC, OFFER_LENGTH), 14 + padC).every(x => x === 0)).to.equal(true)
    expect(Buffer.from(plain).readUInt16BE(14 + padC)).to.equal(68)
    expect(hex(plain.subarray(16 + padC))).to.equal(hex(IA))
  })

  it('a v2 (32-byte) info hash is truncated to 20 bytes for SKEY on both roles', () => {
    const v2 = new Uint8Array(32).map((_x, k) => k * 7)
    const registry = new SkeyRegistry()
    registry.add(v2)
    const a = new InitiatorHandshake({ infoHash: v2, random: drbg('v2 A') })
    const b = new ResponderHandshake({ skeys: registry, random: drbg('v2 B') })
    b.start(0)
    const f2 = b.receive(a.start(0).send, 1)
    const f3 = a.receive(f2.send, 2)
    const rb = expectDone(b.receive(f3.send, 3))
    const ra = expectDone(a.receive(rb.send, 4))
    expect(hex(rb.result.infoHash!)).to.equal(hex(v2.subarray(0, 20)))
    expect(hex(ra.result.infoHash!)).to.equal(hex(v2.subarray(0, 20)))
    expect(makeRegistry(v2.subarray(0, 20)).lookup(sha1('req2', v2.subarray(0, 20)))).to.not.equal(undefined)
  })
})

describe('initiator: a plaintext BitTorrent handshake in reply to our key', () => {
  const header = Uint8Array.from([19, ...new TextEncoder().encode('BitTorrent protocol')])

  it('fails with plaintext-reply as soon as the 20-byte header is complete, whatever the policy', () => {
    for (const policy of ['required', 'preferred', 'tolerated'] as const) {
      const a = new InitiatorHandshake({ infoHash: new Uint8Array(20).fill(1), policy })
      a.start(0)
      const reply = new Uint8Array(68)
      reply.set(header)
      expect(a.receive(reply.subarray(0, 19), 0).status, `${policy}: 19 bytes are not enough to tell`).to.equal('pending')
      const step = a.receive(reply.subarray(19), 0)
      expect(step.status).to.equal('failed')
      if (step.status === 'failed') {
        expect(step.error.code).to.equal('plaintext-reply')
        expect(step.send.length, 'nothing more is sent').to.equal(0)
      }
    }
  })

  it('a key that merely starts with byte 19 is still a key', () => {
    const a = new InitiatorHandshake({ infoHash: new Uint8Array(20).fill(1) })
    a.start(0)
    const notHeader = new Uint8Array(96).fill(7)
    notHeader[0] = 19
    const step = a.receive(notHeader, 0)
    expect(step.status === 'failed' ? step.error.code : step.status).to.not.equal('plaintext-reply')
  })
})
