/**
 * Writes the fuzz seed corpus, test-fixtures/fuzz/<role>/seed-*.json: one well-formed handshake per method and
 * policy, the key and pad edge cases, and one case per typed failure, each with the outcome it must end with
 * (checked here before writing, and again by the replay test). The fuzzer runs these first.
 *
 *   node --import tsx --conditions=source scripts/fuzz/make-seeds.ts
 */
import { writeCorpusEntry } from '../../packages/mse-core/test/fuzz/corpus.js'
import { runCase } from '../../packages/mse-core/test/fuzz/run-case.js'
import type { Delivery, InitiatorCase, ResponderCase, Role } from '../../packages/mse-core/test/fuzz/shapes.js'

const delivery: Delivery = { cuts: [], cutAfterFirstFlight: true, delays: [], end: 'none' }
const byteByByte: Delivery = { ...delivery, cuts: Array.from({ length: 40 }, () => 1) }

const responderBase: ResponderCase = {
  policy: 'preferred',
  maxInitialPayload: 68,
  pool: 0,
  opening: { kind: 'key' },
  pad: { length: 100, seed: 5 },
  flight3: {
    req1Flip: -1,
    skey: 'served',
    vcFlip: -1,
    provide: 3,
    padC: { length: 0, seed: 0 },
    padCLengthField: null,
    ia: { length: 68, seed: 9 },
    iaLengthField: null,
    payload: { length: 30, seed: 3 }
  },
  mutations: [],
  delivery
}

const initiatorBase: InitiatorCase = {
  policy: 'preferred',
  initialPayload: true,
  pool: 0,
  opening: { kind: 'key' },
  pad: { length: 100, seed: 5 },
  flight4: { vcFlip: -1, select: 2, padD: { length: 0, seed: 0 }, padDLengthField: null, payload: { length: 30, seed: 3 } },
  mutations: [],
  delivery
}

type Seed<C> = [name: string, description: string, expect: string, c: C]

const r = (patch: Partial<ResponderCase>, f3: Partial<NonNullable<ResponderCase['flight3']>> = {}): ResponderCase =>
  ({ ...responderBase, ...patch, flight3: patch.flight3 === null ? null : { ...responderBase.flight3!, ...f3 } })
const i = (patch: Partial<InitiatorCase>, f4: Partial<NonNullable<InitiatorCase['flight4']>> = {}): InitiatorCase =>
  ({ ...initiatorBase, ...patch, flight4: patch.flight4 === null ? null : { ...initiatorBase.flight4!, ...f4 } })

const responderSeeds: Array<Seed<ResponderCase>> = [
  ['rc4', 'well formed, preferred: RC4', 'done:rc4', r({})],
  ['plaintext-after-mse', 'well formed, tolerated: plaintext after the MSE header', 'done:plaintext-after-mse', r({ policy: 'tolerated' })],
  ['required', 'well formed, required, provide RC4 only', 'done:rc4', r({ policy: 'required' }, { provide: 2 })],
  ['byte-by-byte', 'well formed, the first 40 bytes one by one', 'done:rc4', r({ delivery: byteByByte })],
  ['secret-leading-zero', 'S has a leading zero byte', 'done:rc4', r({ pool: 3 })],
  ['own-key-leading-zero', 'Yb has a leading zero byte', 'done:rc4', r({ pool: 4 })],
  ['peer-key-leading-zero', 'Ya has a leading zero byte', 'done:rc4', r({ pool: 5 })],
  ['longest-pads', 'PadA and PadC of 512 bytes', 'done:rc4', r({ pad: { length: 512, seed: 8 } }, { padC: { length: 512, seed: 0 } })],
  ['no-ia', 'len(IA) = 0', 'done:rc4', r({}, { ia: { length: 0, seed: 0 } })],
  ['late-bytes', 'bytes after the end', 'done:rc4', r({ delivery: { ...delivery, end: 'late-bytes' } })],
  ['plaintext', 'a plaintext BitTorrent handshake, preferred', 'done:plaintext', r({ opening: { kind: 'plaintext', tail: { length: 20, seed: 4 } }, flight3: null })],
  ['plaintext-refused', 'a plaintext BitTorrent handshake, required', 'failed:plaintext-refused', r({ policy: 'required', opening: { kind: 'plaintext', tail: { length: 20, seed: 4 } }, flight3: null })],
  ['encryption-refused', 'an MSE key, disabled', 'failed:encryption-refused', r({ policy: 'disabled' })],
  ['key-zero', 'Y = 0', 'failed:degenerate-key', r({ opening: { kind: 'degenerate', which: 0 } })],
  ['key-p-minus-1', 'Y = P - 1', 'failed:degenerate-key', r({ opening: { kind: 'degenerate', which: 2 } })],
  ['key-above-p', 'Y = 2^768 - 1', 'failed:degenerate-key', r({ opening: { kind: 'degenerate', which: 5 } })],
  ['too-many-bytes', '600 bytes of PadA with the key', 'failed:too-many-bytes', r({ pad: { length: 600, seed: 2 } })],
  ['sync-not-found', "HASH('req1', S) corrupted, 500 bytes of PadA", 'failed:sync-not-found', r({ pad: { length: 500, seed: 2 } }, { req1Flip: 7 })],
  ['unknown-skey', 'a torrent we do not serve', 'failed:unknown-skey', r({}, { skey: 'other' })],
  ['bad-vc', 'one VC bit flipped', 'failed:bad-vc', r({}, { vcFlip: 0 })],
  ['pad-too-long', 'len(PadC) = 513', 'failed:pad-too-long', r({}, { padCLengthField: 513 })],
  ['ia-too-long', 'len(IA) = 69', 'failed:ia-too-long', r({}, { ia: { length: 69, seed: 1 } })],
  ['no-common-method', 'required, provide plaintext only', 'failed:no-common-method', r({ policy: 'required' }, { provide: 1 })],
  ['deadline', '30 s before flight 3', 'failed:deadline-exceeded', r({ delivery: { ...delivery, delays: [0, 30_000] } })],
  ['peer-closed', 'the peer closes after its key', 'failed:peer-closed', r({ flight3: null, delivery: { ...delivery, end: 'close' } })],
  ['expire', 'a timer long after the key', 'failed:deadline-exceeded', r({ flight3: null, delivery: { ...delivery, end: 'expire' } })]
]

const initiatorSeeds: Array<Seed<InitiatorCase>> = [
  ['rc4', 'well formed, preferred: RC4', 'done:rc4', i({})],
  ['plaintext-after-mse', 'well formed, select plaintext', 'done:plaintext-after-mse', i({}, { select: 1 })],
  ['required', 'well formed, required', 'done:rc4', i({ policy: 'required' })],
  ['no-ia', 'IA empty', 'done:rc4', i({ initialPayload: false })],
  ['byte-by-byte', 'the first 40 bytes one by one', 'done:rc4', i({ delivery: byteByByte })],
  ['secret-leading-zero', 'S has a leading zero byte', 'done:rc4', i({ pool: 3 })],
  ['own-key-leading-zero', 'Ya has a leading zero byte', 'done:rc4', i({ pool: 4 })],
  ['peer-key-leading-zero', 'Yb has a leading zero byte', 'done:rc4', i({ pool: 5 })],
  ['longest-pads', 'PadB and PadD of 512 bytes', 'done:rc4', i({ pad: { length: 512, seed: 8 } }, { padD: { length: 512, seed: 0 } })],
  ['late-bytes', 'bytes after the end', 'done:rc4', i({ delivery: { ...delivery, end: 'late-bytes' } })],
  ['downgrade', 'required, the peer selects plaintext', 'failed:method-not-offered', i({ policy: 'required' }, { select: 1 })],
  ['two-methods', 'select = 3', 'failed:method-not-offered', i({}, { select: 3 })],
  ['plaintext-reply', 'the peer answers with a plaintext handshake', 'failed:plaintext-reply', i({ opening: { kind: 'plaintext', tail: { length: 0, seed: 0 } }, flight4: null })],
  ['key-one', 'Y = 1', 'failed:degenerate-key', i({ opening: { kind: 'degenerate', which: 1 } })],
  ['key-p', 'Y = P', 'failed:degenerate-key', i({ opening: { kind: 'degenerate', which: 3 } })],
  ['too-many-bytes', '600 bytes of PadB with the key', 'failed:too-many-bytes', i({ pad: { length: 600, seed: 2 } })],
  ['sync-not-found', 'VC corrupted, 500 bytes of PadB', 'failed:sync-not-found', i({ pad: { length: 500, seed: 2 } }, { vcFlip: 9 })],
  ['pad-too-long', 'len(PadD) = 600', 'failed:pad-too-long', i({}, { padDLengthField: 600 })],
  ['deadline', '30 s before flight 4', 'failed:deadline-exceeded', i({ delivery: { ...delivery, delays: [0, 30_000] } })],
  ['peer-closed', 'the peer closes after its key', 'failed:peer-closed', i({ flight4: null, delivery: { ...delivery, end: 'close' } })]
]

function write<C extends ResponderCase | InitiatorCase> (role: Role, seeds: Array<Seed<C>>): void {
  for (const [name, description, expect, c] of seeds) {
    const { outcome } = runCase(role, c)
    if (outcome !== expect) throw new Error(`${role} seed ${name}: expected ${expect}, got ${outcome}`)
    writeCorpusEntry(`seed-${name}`, { role, description, expect, case: c })
  }
  console.log(`${role}: ${seeds.length} seeds`)
}

write('responder', responderSeeds)
write('initiator', initiatorSeeds)
