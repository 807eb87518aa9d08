/**
 * Runs in a child process started with `node --openssl-legacy-provider --import tsx --conditions=source`,
 * where OpenSSL's RC4 exists and `nodeCryptoProvider` picks the OpenSSL backend. It only computes and
 * prints JSON; every assertion is made by the parent test against the independent reference.
 *
 *   argv[2] = 'rc4'          OpensslRc4 keystreams and buffer-contract observations
 *   argv[2] = 'transcripts'  replays of test-fixtures/mse-core/transcripts.json with nodeCryptoProvider
 */
import { OpensslRc4, isOpensslRc4Available, nodeCryptoProvider } from '../../src/index.js'
import { concat, hex, prng, readTranscripts, unhex } from 'test-support'
import { runPair, stepSummary } from './pair.js'

function rc4Report (keys: string[]): unknown {
  const out: Record<string, unknown> = {
    available: isOpensslRc4Available(),
    providerBackend: nodeCryptoProvider.createRc4(new Uint8Array(20)).backend
  }
  const key = unhex(keys[1]!)
  out.streams = keys.map(k => hex(new OpensslRc4(unhex(k), 0).process(new Uint8Array(4112))))
  out.defaultDiscard = keys.map(k => hex(new OpensslRc4(unhex(k)).process(new Uint8Array(32))))
  out.skipped = keys.map(k => [240, 1008, 3056, 4080].map(offset => {
    const c = new OpensslRc4(unhex(k), 0)
    c.skip(offset)
    return hex(c.process(new Uint8Array(16)))
  }))
  const input = prng('openssl split').bytes(301)
  out.splitInput = hex(input)
  out.splits = Array.from({ length: input.length + 1 }, (_x, cut) => {
    const c = new OpensslRc4(key)
    return hex(concat(c.process(input.subarray(0, cut)), c.processInPlace(input.slice(cut))))
  })
  const rng = prng('openssl align')
  out.misaligned = [0, 1, 2, 3].flatMap(offset => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 64, 1000].map(length => {
    const backing = rng.bytes(offset + length + 3)
    const view = backing.subarray(offset, offset + length)
    const before = hex(backing)
    const output = hex(new OpensslRc4(key).process(view))
    return { input: hex(view), output, untouched: hex(backing) === before }
  }))
  const owned = prng('openssl inplace').bytes(100)
  const ownedBefore = hex(owned)
  const returned = new OpensslRc4(key).processInPlace(owned)
  out.inPlace = { before: ownedBefore, after: hex(owned), same: returned === owned }
  const handedOver = prng('openssl owned').bytes(100)
  const handedOverBefore = hex(handedOver)
  const ownedResult = new OpensslRc4(key).processOwned(handedOver)
  out.owned = { before: handedOverBefore, result: hex(ownedResult), inputUntouched: hex(handedOver) === handedOverBefore, same: ownedResult === handedOver }
  const original = new OpensslRc4(key)
  original.skip(37)
  const copy = original.clone()
  const first = hex(original.process(new Uint8Array(64)))
  original.skip(1000)
  const fromCopy = hex(copy.process(new Uint8Array(64)))
  copy.skip(500)
  const originalNext = hex(original.process(new Uint8Array(64)))
  out.clone = { first, fromCopy, originalNext, backend: copy.backend }
  return out
}

function transcriptsReport (): unknown {
  const fixture = readTranscripts()
  return fixture.transcripts.map(t => {
    const run = runPair({
      initiatorPolicy: t.initiatorPolicy,
      responderPolicy: t.responderPolicy,
      seedA: t.seeds.initiator,
      seedB: t.seeds.responder,
      infoHash: unhex(t.infoHash),
      ia: unhex(t.ia),
      provider: nodeCryptoProvider,
      extension: false // the plain spec, as the fixture records it
    })
    const a = run.a.status === 'done' ? run.a.result : undefined
    const b = run.b.status === 'done' ? run.b.result : undefined
    return {
      name: t.name,
      flights: [1, 2, 3, 4].map(k => hex(run.flights[k] ?? new Uint8Array(0))),
      a: stepSummary(run.a),
      b: stepSummary(run.b),
      backends: [a?.encryptor?.backend, a?.decryptor?.backend, b?.encryptor?.backend, b?.decryptor?.backend],
      wire: {
        aToB: a?.encryptor ? hex(a.encryptor.process(unhex(t.payload.aToB))) : t.payload.aToB,
        bToA: b?.encryptor ? hex(b.encryptor.process(unhex(t.payload.bToA))) : t.payload.bToA
      }
    }
  })
}

const what = process.argv[2]
const report = what === 'rc4' ? rc4Report(JSON.parse(process.argv[3]!) as string[]) : transcriptsReport()
process.stdout.write(JSON.stringify(report))
