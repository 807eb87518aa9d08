/**
 * Generates test-fixtures/mse-core/transcripts.json: known-answer MSE handshake transcripts of the plain
 * spec, and test-fixtures/mse-core/extension-vectors.json: the same handshakes with this project's PadC/PadD
 * extension and AES-128-CTR (docs/mse-extension.md).
 *
 *   node --import tsx --conditions=source scripts/make-transcripts.ts          (write the fixtures)
 *   node --import tsx --conditions=source scripts/make-transcripts.ts --check  (compare with the files)
 *
 * Each transcript runs mse-core's InitiatorHandshake and ResponderHandshake with injected, seeded
 * randomness (the `random` option) and records every flight. The same transcript is then recomputed by an
 * independent straight-line reference written below, built only from test-support's reference
 * primitives (BigInt modPow, node:crypto SHA-1, a byte-at-a-time RC4; none imports the package); if any byte
 * differs, nothing is written.
 *
 * The only thing the reference shares with the package is how the handshake draws from the random
 * source (that is what makes a transcript reproducible at all): a private key is random(20) (drawn again
 * if all zero); a pad length is 16 bits from random(2), rejection-sampled to be uniform in 0..512; PadA
 * and PadB bytes come from random(length) right after; PadC and PadD are zero bytes of a drawn length.
 */
import { createCipheriv, createHash, createHmac } from 'node:crypto'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  InitiatorHandshake, ResponderHandshake, SkeyRegistry, nodeCryptoProvider,
  type EncryptionPolicy, type HandshakeStep
} from 'mse-core'
import {
  DRBG_DEFINITION, P, RefRc4, concat, drbg, fromBig, hex, modPow, sha1, toBig, u16, u32, unhex,
  type ExtensionDetail, type Transcript, type TranscriptSpec
} from 'test-support'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUTPUT = join(ROOT, 'test-fixtures', 'mse-core', 'transcripts.json')
const EXTENSION_OUTPUT = join(ROOT, 'test-fixtures', 'mse-core', 'extension-vectors.json')

// ---- the independent reference ---------------------------------------------------------------------

// test-support's reference primitives (P typed in from the specification, BigInt modPow, SHA-1, textbook
// RC4) and the DRBG the fixtures define: nothing there imports the package under test.
/** Byte-at-a-time RC4 with the first 1024 keystream bytes dropped, as MSE uses it. */
function rc4 (key: Uint8Array): (data: Uint8Array) => Uint8Array {
  const cipher = new RefRc4(key, 1024)
  return data => cipher.crypt(data)
}

function refPrivateKey (random: (n: number) => Uint8Array): Uint8Array {
  for (let attempt = 0; attempt < 8; attempt++) {
    const key = random(20)
    if (key.some(b => b !== 0)) return key
  }
  throw new Error('all-zero random source')
}

/** How many 16-bit pad-length draws the current transcript rejected (to find a transcript that has one). */
let padLengthRedraws = 0

function refPadLength (random: (n: number) => Uint8Array): number {
  const limit = Math.floor(65536 / 513) * 513
  for (let attempt = 0; attempt < 64; attempt++) {
    const r = random(2)
    const v = (r[0]! << 8) | r[1]!
    if (v < limit) return v % 513
    padLengthRedraws++
  }
  return 0
}

function refProvide (policy: EncryptionPolicy): number {
  return policy === 'required' ? 0x02 : 0x03
}

function refSelect (policy: EncryptionPolicy, provide: number): number {
  const rc4Offered = (provide & 0x02) !== 0
  const plainOffered = (provide & 0x01) !== 0
  if (policy === 'required') return rc4Offered ? 0x02 : 0
  if (policy === 'preferred') return rc4Offered ? 0x02 : plainOffered ? 0x01 : 0
  if (policy === 'tolerated') return plainOffered ? 0x01 : rc4Offered ? 0x02 : 0
  return 0
}

// ---- the extension, straight from docs/mse-extension.md ------------------------------------------------

const hmac = (key: Uint8Array, ...parts: (string | Uint8Array)[]): Uint8Array => {
  const h = createHmac('sha256', key)
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'latin1') : p)
  return new Uint8Array(h.digest())
}

/** AES-128-CTR from AES-128-ECB over counter blocks: nonce (4) | 12 zero bytes, +1 per block as a 128-bit number. */
function aesCtr (keyHash: Uint8Array): (data: Uint8Array) => Uint8Array {
  const ecb = createCipheriv('aes-128-ecb', keyHash.subarray(0, 16), null).setAutoPadding(false)
  let counter = toBig(concat(keyHash.subarray(16, 20), new Uint8Array(12)))
  let keystream = new Uint8Array(0)
  let used = 0
  return data => {
    const out = new Uint8Array(data.length)
    for (let k = 0; k < data.length; k++) {
      if (used === keystream.length) {
        keystream = new Uint8Array(ecb.update(unhex(counter.toString(16).padStart(32, '0'))))
        counter = (counter + 1n) % (1n << 128n)
        used = 0
      }
      out[k] = data[k]! ^ keystream[used++]!
    }
    return out
  }
}

/** The whole transcript, straight from the specification. */
function reference (spec: TranscriptSpec, extension = false): Transcript {
  padLengthRedraws = 0
  const randomA = drbg(spec.seeds.initiator)
  const randomB = drbg(spec.seeds.responder)
  const infoHash = unhex(spec.infoHash)
  const skey = infoHash.subarray(0, 20) // v1: the info hash; v2: SHA-256 info hash truncated to 20 bytes
  const ia = unhex(spec.ia)

  // Flight 1: A's key and PadA.
  const xa = refPrivateKey(randomA)
  const padALength = refPadLength(randomA)
  const padA = randomA(padALength)
  const ya = fromBig(modPow(2n, toBig(xa), P))
  const flight1 = concat(ya, padA)

  // Flight 2: B's key and PadB (B answers as soon as it sees A's key).
  const xb = refPrivateKey(randomB)
  const padBLength = refPadLength(randomB)
  const padB = randomB(padBLength)
  const yb = fromBig(modPow(2n, toBig(xb), P))
  const flight2 = concat(yb, padB)

  const s = fromBig(modPow(toBig(yb), toBig(xa), P))
  if (hex(s) !== hex(fromBig(modPow(toBig(ya), toBig(xb), P)))) throw new Error('DH does not agree')
  const encryptA = rc4(sha1('keyA', s, skey))
  const encryptB = rc4(sha1('keyB', s, skey))

  // Flight 3 (with the extension: the offer at the start of PadC when it fits in 13 bytes).
  const provide = refProvide(spec.initiatorPolicy)
  const padCLength = refPadLength(randomA)
  const K = hmac(s, 'webtorrent-mse extension 1', skey)
  const padC = new Uint8Array(padCLength)
  const offerFlags = provide & 0x02 ? 0x01 : 0x00
  const offerTag = hmac(K, 'offer', Uint8Array.of(offerFlags), u32(provide), u16(padCLength), u16(ia.length)).subarray(0, 8)
  const offer = extension && padCLength >= 13 ? concat(Uint8Array.of(offerFlags), u32(provide), offerTag) : undefined
  if (offer) padC.set(offer)
  const flight3 = concat(
    sha1('req1', s),
    sha1('req2', skey).map((b, k) => b ^ sha1('req3', s)[k]!),
    encryptA(concat(new Uint8Array(8), u32(provide), u16(padCLength), padC, u16(ia.length))),
    encryptA(ia)
  )

  // Flight 4 (with the extension: the confirmation at the start of PadD when it fits in 17 bytes).
  const select = refSelect(spec.responderPolicy, provide)
  if (select === 0) throw new Error(`${spec.name}: no common method`)
  const padDLength = refPadLength(randomB)
  const padD = new Uint8Array(padDLength)
  const confirmFits = extension && padDLength >= 17
  const useAes = confirmFits && offer !== undefined && (offerFlags & 0x01) !== 0 && select === 0x02
  const confirmFlags = (useAes ? 0x01 : 0) | (offer ? 0x02 : 0)
  const confirmTag = hmac(K, 'confirm', Uint8Array.of(confirmFlags), u32(provide), u32(select), u16(padDLength), offer ? offerTag : new Uint8Array(8)).subarray(0, 8)
  const confirmation = confirmFits ? concat(Uint8Array.of(confirmFlags), u32(provide), u32(select), confirmTag) : undefined
  if (confirmation) padD.set(confirmation)
  const flight4 = encryptB(concat(new Uint8Array(8), u32(select), u16(padDLength), padD))

  // Payload after the handshake: RC4 streams continue, or AES-128-CTR from counter 0; plaintext-after-mse as is.
  const aToB = unhex(spec.payload.aToB)
  const bToA = unhex(spec.payload.bToA)
  const useRc4 = select === 0x02 && !useAes
  const keyHashA = sha1('keyA', s, skey)
  const keyHashB = sha1('keyB', s, skey)
  const payloadA = useAes ? aesCtr(keyHashA) : useRc4 ? encryptA : (x: Uint8Array) => x
  const payloadB = useAes ? aesCtr(keyHashB) : useRc4 ? encryptB : (x: Uint8Array) => x
  const aesDetail = (h: Uint8Array): ExtensionDetail['aes']['aToB'] => ({
    key: hex(h.subarray(0, 16)), counterBlock: hex(concat(h.subarray(16, 20), new Uint8Array(12))), keystream64: hex(aesCtr(h)(new Uint8Array(64)))
  })

  return {
    ...spec,
    skey: hex(skey),
    privateKeys: { initiator: hex(xa), responder: hex(xb) },
    padLengths: { padA: padALength, padB: padBLength, padC: padCLength, padD: padDLength },
    padLengthRedraws,
    Ya: hex(ya),
    Yb: hex(yb),
    S: hex(s),
    cryptoProvide: provide,
    cryptoSelect: select,
    method: useAes ? 'aes-128-ctr' : useRc4 ? 'rc4' : 'plaintext-after-mse',
    flights: { 1: hex(flight1), 2: hex(flight2), 3: hex(flight3), 4: hex(flight4) },
    wire: { aToB: hex(payloadA(aToB)), bToA: hex(payloadB(bToA)) },
    ...(extension
      ? {
          extension: {
            K: hex(K),
            offer: offer ? hex(offer) : null,
            confirmation: confirmation ? hex(confirmation) : null,
            aes: { aToB: aesDetail(keyHashA), bToA: aesDetail(keyHashB) }
          }
        }
      : {})
  }
}

// ---- the package under test ------------------------------------------------------------------------

function expectStatus (step: HandshakeStep, status: HandshakeStep['status'], what: string): void {
  if (step.status !== status) {
    const detail = step.status === 'failed' ? `: ${step.error.message}` : ''
    throw new Error(`${what}: expected ${status}, got ${step.status}${detail}`)
  }
}

/** The flights and outcome as mse-core produces them, in the shape of a transcript's recorded fields. */
function system (spec: TranscriptSpec, extension = false): Pick<Transcript, 'flights' | 'cryptoProvide' | 'cryptoSelect' | 'wire'> & { method: string } {
  const skeys = new SkeyRegistry(nodeCryptoProvider)
  skeys.add(spec.infoHash)
  const a = new InitiatorHandshake({
    policy: spec.initiatorPolicy, random: drbg(spec.seeds.initiator), infoHash: spec.infoHash, initialPayload: unhex(spec.ia), extension
  })
  // extension: false: these transcripts are the plain spec (zeroed PadC/PadD), as every other client
  // sends it; this project's PadC/PadD extension has its own vectors (scripts/make-extension-vectors.ts).
  const b = new ResponderHandshake({ policy: spec.responderPolicy, random: drbg(spec.seeds.responder), skeys, extension })
  const s1 = a.start(0)
  expectStatus(b.start(0), 'pending', 'B start')
  const s2 = b.receive(s1.send, 1)
  expectStatus(s2, 'pending', 'flight 1 to B')
  const s3 = a.receive(s2.send, 2)
  expectStatus(s3, 'pending', 'flight 2 to A')
  const s4 = b.receive(s3.send, 3)
  expectStatus(s4, 'done', 'flight 3 to B')
  const end = a.receive(s4.send, 4)
  expectStatus(end, 'done', 'flight 4 to A')
  if (s4.status !== 'done' || end.status !== 'done') throw new Error('unreachable')
  const ra = end.result
  const rb = s4.result
  if (ra.method !== rb.method) throw new Error(`methods differ: ${ra.method} / ${rb.method}`)
  if (hex(rb.payload) !== spec.ia) throw new Error('B did not receive IA')
  if (ra.method === 'plaintext' || (ra.method === 'aes-128-ctr' && !extension)) throw new Error(`unexpected ${ra.method}`)

  const aToB = unhex(spec.payload.aToB)
  const bToA = unhex(spec.payload.bToA)
  const wireAToB = ra.encryptor ? ra.encryptor.process(aToB) : aToB
  const wireBToA = rb.encryptor ? rb.encryptor.process(bToA) : bToA
  const backAtB = rb.decryptor ? rb.decryptor.process(wireAToB) : wireAToB
  const backAtA = ra.decryptor ? ra.decryptor.process(wireBToA) : wireBToA
  if (hex(backAtB) !== hex(aToB) || hex(backAtA) !== hex(bToA)) throw new Error('payload does not round-trip')

  return {
    flights: { 1: hex(s1.send), 2: hex(s2.send), 3: hex(s3.send), 4: hex(s4.send) },
    method: ra.method,
    cryptoProvide: ra.cryptoProvide!,
    cryptoSelect: ra.cryptoSelect!,
    wire: { aToB: hex(wireAToB), bToA: hex(wireBToA) }
  }
}

// ---- the transcripts -------------------------------------------------------------------------------

function infoHashFor (name: string, length = 20): string {
  const algorithm = length === 32 ? 'sha256' : 'sha1'
  return createHash(algorithm).update('mse-core transcript torrent ' + name).digest('hex')
}

function bittorrentHandshake (infoHash: string, peerId: string): string {
  const out = Buffer.alloc(68)
  out[0] = 19
  out.write('BitTorrent protocol', 1, 'latin1')
  out[25] = 0x10
  out.set(unhex(infoHash).subarray(0, 20), 28)
  out.write(peerId, 48, 'latin1')
  return out.toString('hex')
}

function spec (name: string, description: string, options: {
  initiatorPolicy?: EncryptionPolicy, responderPolicy?: EncryptionPolicy, ia?: boolean, infoHashLength?: number, seeds?: TranscriptSpec['seeds']
}): TranscriptSpec {
  const infoHash = infoHashFor(name, options.infoHashLength)
  return {
    name,
    description,
    seeds: options.seeds ?? { initiator: `${name}/initiator`, responder: `${name}/responder` },
    infoHash,
    initiatorPolicy: options.initiatorPolicy ?? 'preferred',
    responderPolicy: options.responderPolicy ?? 'preferred',
    ia: options.ia === false ? '' : bittorrentHandshake(infoHash, '-MS0001-transcript01'),
    payload: {
      aToB: Buffer.from(`payload from A after the handshake (${name})`).toString('hex'),
      bToA: Buffer.from(`payload from B after the handshake (${name})`).toString('hex')
    }
  }
}

/** Searches seed pairs name/initiator/N, name/responder/N until `accept` holds for the reference transcript. */
function search (base: TranscriptSpec, accept: (t: Transcript) => boolean): TranscriptSpec {
  for (let n = 0; n < 100_000; n++) {
    const candidate = { ...base, seeds: { initiator: `${base.name}/initiator/${n}`, responder: `${base.name}/responder/${n}` } }
    if (accept(reference(candidate))) return candidate
  }
  throw new Error(`${base.name}: search failed`)
}

const leadingZero = (h: string): boolean => h.startsWith('00')

const SPECS: TranscriptSpec[] = [
  spec('rc4-ia68', 'preferred/preferred, RC4, IA = a 68-byte BitTorrent handshake', {}),
  spec('rc4-no-ia', 'preferred/preferred, RC4, no IA', { ia: false }),
  spec('plaintext-after-mse', 'preferred initiator, tolerated responder: plaintext payload after an MSE header, IA still RC4', {
    responderPolicy: 'tolerated'
  }),
  spec('required-required', 'required/required: RC4 only offered and selected', {
    initiatorPolicy: 'required', responderPolicy: 'required'
  }),
  spec('tolerated-required', 'tolerated initiator (offers both), required responder: RC4', {
    initiatorPolicy: 'tolerated', responderPolicy: 'required', ia: false
  }),
  spec('v2-info-hash', 'a 32-byte (v2, SHA-256) info hash: SKEY is its first 20 bytes', { infoHashLength: 32 }),
  search(spec('ya-leading-zero', 'Ya has a leading zero byte (still 96 bytes on the wire)', {}), t => leadingZero(t.Ya)),
  search(spec('yb-leading-zero', 'Yb has a leading zero byte (still 96 bytes on the wire)', { ia: false }), t => leadingZero(t.Yb)),
  search(spec('s-leading-zero', 'S has a leading zero byte (still 96 bytes inside every hash)', {}), t => leadingZero(t.S)),
  search(spec('pad-length-redraw', 'a pad-length draw fell in the rejected range and was drawn again (uniform 0..512)', {}),
    t => t.padLengthRedraws > 0)
]

/** With the extension: both blocks fit (AES wherever RC4 runs), and each block left out by a short pad. */
function extensionSearch (base: TranscriptSpec, accept: (t: ReturnType<typeof reference>) => boolean): TranscriptSpec {
  for (let n = 0; n < 100_000; n++) {
    const candidate = { ...base, seeds: { initiator: `${base.name}/initiator/${n}`, responder: `${base.name}/responder/${n}` } }
    if (accept(reference(candidate, true))) return candidate
  }
  throw new Error(`${base.name}: search failed`)
}

const EXTENSION_SPECS: TranscriptSpec[] = [
  extensionSearch(spec('ext-aes-ia68', 'preferred/preferred, offer and confirmation fit: AES-128-CTR, IA = the BitTorrent handshake (RC4)', {}),
    t => t.method === 'aes-128-ctr'),
  extensionSearch(spec('ext-aes-required', 'required/required, no IA: AES-128-CTR', { initiatorPolicy: 'required', responderPolicy: 'required', ia: false }),
    t => t.method === 'aes-128-ctr'),
  extensionSearch(spec('ext-plaintext-after-mse', 'preferred/tolerated: both blocks, plaintext selected, no AES', { responderPolicy: 'tolerated' }),
    t => t.extension?.offer !== null && t.extension?.confirmation !== null),
  extensionSearch(spec('ext-no-offer', 'PadC shorter than the offer (13): no offer, the confirmation only, RC4', {}),
    t => t.extension?.offer === null && t.extension?.confirmation !== null),
  extensionSearch(spec('ext-no-confirmation', 'PadD shorter than the confirmation (17): the offer only, RC4', {}),
    t => t.extension?.offer !== null && t.extension?.confirmation === null)
]

/** Runs every spec through mse-core and the reference; exits without writing on any difference. */
function build (specs: TranscriptSpec[], extension: boolean): Array<ReturnType<typeof reference>> {
  const transcripts: Array<ReturnType<typeof reference>> = []
  for (const s of specs) {
    const ref = reference(s, extension)
    const sys = system(s, extension)
    const mismatches: string[] = []
    for (const k of ['1', '2', '3', '4'] as const) {
      if (ref.flights[k] !== sys.flights[k]) mismatches.push(`flight ${k}`)
    }
    if (ref.method !== sys.method) mismatches.push(`method ${ref.method} / ${sys.method}`)
    if (ref.cryptoProvide !== sys.cryptoProvide) mismatches.push('crypto_provide')
    if (ref.cryptoSelect !== sys.cryptoSelect) mismatches.push('crypto_select')
    if (ref.wire.aToB !== sys.wire.aToB || ref.wire.bToA !== sys.wire.bToA) mismatches.push('payload after the handshake')
    if (mismatches.length > 0) {
      console.error(`${s.name}: mse-core and the reference disagree on ${mismatches.join(', ')}; fixture NOT written`)
      process.exit(1)
    }
    transcripts.push(ref)
    console.log(`${s.name}: ${ref.method}, flights ${[1, 2, 3, 4].map(k => ref.flights[String(k) as '1'].length / 2).join('/')} bytes, seeds ${s.seeds.initiator} | ${s.seeds.responder}`)
  }
  return transcripts
}

function writeOrCheck (output: string, fixture: unknown): void {
  const text = JSON.stringify(fixture, null, 2) + '\n'
  if (process.argv.includes('--check')) {
    const current = readFileSync(output, 'utf8')
    if (current !== text) {
      console.error(`${output} differs from what the generator produces`)
      process.exit(1)
    }
    console.log(`${output} is up to date`)
    return
  }
  mkdirSync(dirname(output), { recursive: true })
  writeFileSync(output, text)
  console.log(`wrote ${output}`)
}

const RANDOM_USE = 'private key = random(20) (redrawn if all zero); pad length = uint16be(random(2)) rejection-sampled below ' +
  'floor(65536/513)*513, modulo 513; PadA/PadB bytes = random(length) right after; PadC/PadD are zero bytes. ' +
  'Order: A draws key, len(PadA), PadA at flight 1 and len(PadC) at flight 3; B draws key, len(PadB), PadB at flight 2 and len(PadD) at flight 4.'

function main (): void {
  writeOrCheck(OUTPUT, {
    description: 'Known-answer MSE handshake transcripts, generated by scripts/make-transcripts.ts; every flight was ' +
      'produced by mse-core and recomputed by an independent reference (BigInt modPow, SHA-1, byte-at-a-time RC4).',
    drbg: DRBG_DEFINITION,
    randomUse: RANDOM_USE,
    prime: P.toString(16),
    transcripts: build(SPECS, false)
  })
  writeOrCheck(EXTENSION_OUTPUT, {
    description: 'Known-answer vectors of the webtorrent-mse PadC/PadD extension and AES-128-CTR (docs/mse-extension.md), ' +
      'generated by scripts/make-transcripts.ts; every flight was produced by mse-core and recomputed by an independent ' +
      'reference (BigInt modPow, SHA-1, HMAC-SHA-256, byte-at-a-time RC4, AES-128-CTR built on AES-128-ECB).',
    drbg: DRBG_DEFINITION,
    randomUse: RANDOM_USE + ' With the extension, the offer / confirmation overwrite the start of PadC / PadD when they fit; no extra draws.',
    transcripts: build(EXTENSION_SPECS, true)
  })
}

main()
