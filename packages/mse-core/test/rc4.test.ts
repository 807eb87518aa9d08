import { spawnSync } from 'node:child_process'
import { expect } from 'chai'
import { Rc4, isOpensslRc4Available, nodeCryptoProvider } from '../src/index.js'
import { forgeCryptoProvider } from '../src/forge.js'
import { runOpensslChild } from './helpers/child.js'
import { RefRc4, hex, prng, unhex } from 'test-support'

/**
 * RFC 6229 ("Test Vectors for the Stream Cipher RC4"), section 2, typed in by hand. Each entry is the
 * keystream at a decimal offset (16 bytes).
 */
const RFC6229: { key: string, vectors: Record<number, string> }[] = [
  {
    key: '0102030405',
    vectors: {
      0: 'b2396305f03dc027ccc3524a0a1118a8',
      16: '6982944f18fc82d589c403a47a0d0919',
      240: '28cb1132c96ce286421dcaadb8b69eae',
      256: '1cfcf62b03eddb641d77dfcf7f8d8c93',
      496: '42b7d0cdd918a8a33dd51781c81f4041',
      512: '6459844432a7da923cfb3eb4980661f6',
      752: 'ec10327bde2beefd18f9277680457e22',
      768: 'eb62638d4f0ba1fe9fca20e05bf8ff2b',
      1008: '45129048e6a0ed0b56b490338f078da5',
      1024: '30abbcc7c20b01609f23ee2d5f6bb7df',
      1520: '3294f744d8f9790507e70f62e5bbceea',
      1536: 'd8729db41882259bee4f825325f5a130',
      2032: '1eb14a0c13b3bf47fa2a0ba93ad45b8b',
      2048: 'cc582f8ba9f265e2b1be9112e975d2d7',
      3056: 'f2e30f9bd102ecbf75aaade9bc35c43c',
      3072: 'ec0e11c479dc329dc8da7968fe965681',
      4080: '068326a2118416d21f9d04b2cd1ca050',
      4096: 'ff25b58995996707e51fbdf08b34d875'
    }
  },
  {
    key: '0102030405060708090a0b0c0d0e0f10',
    vectors: {
      0: '9ac7cc9a609d1ef7b2932899cde41b97',
      16: '5248c4959014126a6e8a84f11d1a9e1c',
      240: '065902e4b620f6cc36c8589f66432f2b',
      256: 'd39d566bc6bce3010768151549f3873f',
      496: 'b6d1e6c4a5e4771cad79538df295fb11',
      512: 'c68c1d5c559a974123df1dbc52a43b89',
      752: 'c5ecf88de897fd57fed301701b82a259',
      768: 'eccbe13de1fcc91c11a0b26c0bc8fa4d',
      1008: 'e7a72574f8782ae26aabcf9ebcd66065',
      1024: 'bdf0324e6083dcc6d3cedd3ca8c53c16',
      1520: 'b40110c4190b5622a96116b0017ed297',
      1536: 'ffa0b514647ec04f6306b892ae661181',
      2032: 'd03d1bc03cd33d70dff9fa5d71963ebd',
      2048: '8a44126411eaa78bd51e8d87a8879bf5',
      3056: 'fabeb76028ade2d0e48722e46c4615a3',
      3072: 'c05d88abd50357f935a63c59ee537623',
      4080: 'ff38265c1642c1abe8d3c2fe5e572bf8',
      4096: 'a36a4c301ae8ac13610ccbc12256cacc'
    }
  }
]

const STREAM_LENGTH = 4096 + 16

/** Keystream bytes of the package's Rc4 with no discard, read by encrypting zeros in one call. */
function packageKeystream (key: Uint8Array, length: number): Uint8Array {
  return new Rc4(key, 0).process(new Uint8Array(length))
}

function nativeKeystreams (keys: string[], length: number): string[] | undefined {
  const script = `
    const { createCipheriv } = require('node:crypto')
    const keys = ${JSON.stringify(keys)}
    const out = keys.map(k => createCipheriv('rc4', Buffer.from(k, 'hex'), null).update(Buffer.alloc(${length})).toString('hex'))
    process.stdout.write(JSON.stringify(out))`
  const child = spawnSync(process.execPath, ['--openssl-legacy-provider', '-e', script], { encoding: 'utf8' })
  if (child.status !== 0) return undefined
  return JSON.parse(child.stdout) as string[]
}

describe('Rc4: RFC 6229 test vectors', () => {
  for (const { key, vectors } of RFC6229) {
    const keyBytes = unhex(key)
    const offsets = Object.keys(vectors).map(Number)

    it(`key 0x${key}: the typed-in vectors match an independent byte-at-a-time RC4`, () => {
      const ref = new RefRc4(keyBytes).keystream(STREAM_LENGTH)
      expect(offsets).to.include.members([0, 16, 240, 256, 496, 512, 752, 768, 1008, 1024, 1520, 1536, 2032, 2048, 3056, 3072, 4080, 4096])
      for (const offset of offsets) {
        expect(hex(ref.subarray(offset, offset + 16)), `offset ${offset}`).to.equal(vectors[offset])
      }
    })

    it(`key 0x${key}: Rc4(key, 0) gives the vectors at every offset`, () => {
      const stream = packageKeystream(keyBytes, STREAM_LENGTH)
      for (const offset of offsets) {
        expect(hex(stream.subarray(offset, offset + 16)), `offset ${offset}`).to.equal(vectors[offset])
      }
    })

    it(`key 0x${key}: Rc4(key, offset) and skip(offset) land on the vector`, () => {
      for (const offset of offsets) {
        expect(hex(new Rc4(keyBytes, offset).process(new Uint8Array(16))), `discard ${offset}`).to.equal(vectors[offset])
        const skipped = new Rc4(keyBytes, 0)
        skipped.skip(offset)
        expect(hex(skipped.process(new Uint8Array(16))), `skip ${offset}`).to.equal(vectors[offset])
      }
    })

    it(`key 0x${key}: the default discard is MSE's 1024 bytes`, () => {
      const rc4 = new Rc4(keyBytes)
      expect(hex(rc4.process(new Uint8Array(16)))).to.equal(vectors[1024])
      rc4.skip(1520 - 1024 - 16)
      expect(hex(rc4.process(new Uint8Array(32)))).to.equal(vectors[1520]! + vectors[1536]!)
    })
  }

  it('agrees with OpenSSL\'s native RC4 (node --openssl-legacy-provider) on the vectors and the whole stream', function () {
    const native = nativeKeystreams(RFC6229.map(v => v.key), STREAM_LENGTH)
    if (!native) this.skip()
    RFC6229.forEach(({ key, vectors }, k) => {
      const stream = native![k]!
      for (const [offset, expected] of Object.entries(vectors)) {
        const at = Number(offset) * 2
        expect(stream.slice(at, at + 32), `native, key ${key}, offset ${offset}`).to.equal(expected)
      }
      expect(hex(packageKeystream(unhex(key), STREAM_LENGTH))).to.equal(stream)
    })
  })

  it('agrees with native RC4 and the reference for random keys of every length class', function () {
    const rng = prng('rc4-random-keys')
    const keys = [1, 5, 7, 16, 20, 32, 100, 255, 256].map(n => hex(rng.bytes(n)))
    const native = nativeKeystreams(keys, 3000)
    for (const [k, key] of keys.entries()) {
      const ours = hex(packageKeystream(unhex(key), 3000))
      expect(ours, `reference, key length ${key.length / 2}`).to.equal(hex(new RefRc4(unhex(key)).keystream(3000)))
      if (native) expect(ours, `native, key length ${key.length / 2}`).to.equal(native[k])
    }
  })

  it('rejects empty and over-long keys', () => {
    expect(() => new Rc4(new Uint8Array(0))).to.throw(RangeError)
    expect(() => new Rc4(new Uint8Array(257))).to.throw(RangeError)
    expect(() => new Rc4(new Uint8Array(256))).not.to.throw()
  })
})

describe('Rc4: one stream across calls', () => {
  const key = unhex('0102030405060708090a0b0c0d0e0f10')
  const input = prng('rc4-split').bytes(301)
  const expected = hex(new RefRc4(key, 1024).crypt(input))

  it('splitting one buffer at every byte position into two process() calls gives the one-call output', () => {
    expect(hex(new Rc4(key).process(input))).to.equal(expected)
    for (let cut = 0; cut <= input.length; cut++) {
      const rc4 = new Rc4(key)
      const out = Buffer.concat([rc4.process(input.subarray(0, cut)), rc4.process(input.subarray(cut))])
      expect(out.toString('hex'), `cut at ${cut}`).to.equal(expected)
    }
  })

  it('mixing process() and processInPlace() at every cut continues the same stream', () => {
    for (let cut = 0; cut <= input.length; cut += 7) {
      const rc4 = new Rc4(key)
      const head = rc4.process(input.subarray(0, cut))
      const tail = rc4.processInPlace(input.slice(cut))
      expect(Buffer.concat([head, tail]).toString('hex'), `cut at ${cut}`).to.equal(expected)
    }
  })

  it('random chunk sizes give the one-call output', () => {
    const rng = prng('rc4-chunks')
    for (let trial = 0; trial < 50; trial++) {
      const rc4 = new Rc4(key)
      const parts: Uint8Array[] = []
      let at = 0
      while (at < input.length) {
        const n = Math.min(input.length - at, rng.int(13))
        parts.push(rc4.process(input.subarray(at, at + n)))
        at += n
      }
      expect(Buffer.concat(parts).toString('hex'), `trial ${trial}`).to.equal(expected)
    }
  })
})

describe('Rc4: misaligned inputs and short lengths', () => {
  const rng = prng('rc4-align')
  const key = rng.bytes(20)

  for (const offset of [0, 1, 2, 3, 5]) {
    it(`input at byteOffset ${offset}, lengths 0..9 and longer: same as the reference`, () => {
      for (const length of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000]) {
        const backing = rng.bytes(offset + length + 3)
        const input = backing.subarray(offset, offset + length)
        expect(input.byteOffset).to.equal(offset)
        const ref = new RefRc4(key, 1024)
        // Two consecutive calls so the second starts mid-word in the keystream as well.
        const a = new Rc4(key).process(input)
        const rc4 = new Rc4(key)
        rc4.skip(length)
        const b = rc4.process(input)
        expect(hex(a), `process, length ${length}`).to.equal(hex(ref.crypt(input)))
        expect(hex(b), `second call, length ${length}`).to.equal(hex(ref.crypt(input)))

        const inPlaceRef = new RefRc4(key, 1024).crypt(input)
        const copy = backing.slice()
        const view = copy.subarray(offset, offset + length)
        new Rc4(key).processInPlace(view)
        expect(hex(view), `processInPlace, length ${length}`).to.equal(hex(inPlaceRef))
        // Bytes around the view are untouched.
        expect(hex(copy.subarray(0, offset))).to.equal(hex(backing.subarray(0, offset)))
        expect(hex(copy.subarray(offset + length))).to.equal(hex(backing.subarray(offset + length)))
      }
    })
  }

  it('a stream that is itself at an odd position handles aligned and unaligned inputs alike', () => {
    const ref = new RefRc4(key, 1024)
    const rc4 = new Rc4(key)
    for (let step = 0; step < 40; step++) {
      const offset = rng.int(4)
      const length = rng.int(24)
      const input = rng.bytes(offset + length).subarray(offset)
      expect(hex(rc4.process(input)), `step ${step}`).to.equal(hex(ref.crypt(input)))
    }
  })

  it('works on Node Buffers from the shared pool (arbitrary byteOffset)', () => {
    const ref = new RefRc4(key, 1024)
    const rc4 = new Rc4(key)
    for (let length = 0; length < 40; length++) {
      const buf = Buffer.from(rng.bytes(length)) // small Buffers come from the 8 KiB pool
      expect(hex(rc4.process(buf))).to.equal(hex(ref.crypt(buf)))
    }
  })
})

describe('Rc4: buffer contract', () => {
  const key = unhex('0102030405')

  it('process() never modifies its input and returns a new buffer', () => {
    for (const offset of [0, 1, 2, 3]) {
      const backing = prng('contract' + offset).bytes(200)
      const before = hex(backing)
      const input = backing.subarray(offset, offset + 150)
      const out = new Rc4(key).process(input)
      expect(hex(backing)).to.equal(before)
      expect(out).to.not.equal(input)
      expect(out.buffer).to.not.equal(backing.buffer)
      expect(out.length).to.equal(150)
      expect(hex(out)).to.equal(hex(new RefRc4(key, 1024).crypt(input)))
    }
  })

  it('processInPlace() overwrites its input and returns the same object', () => {
    const buffer = prng('inplace').bytes(100)
    const expected = hex(new RefRc4(key, 1024).crypt(buffer))
    const returned = new Rc4(key).processInPlace(buffer)
    expect(returned).to.equal(buffer)
    expect(hex(buffer)).to.equal(expected)
  })

  it('processOwned() on the JavaScript backend works in place (no allocation) and returns the same object', () => {
    const buffer = prng('owned js').bytes(100)
    const expected = hex(new RefRc4(key, 1024).crypt(buffer))
    const returned = new Rc4(key).processOwned(buffer)
    expect(returned).to.equal(buffer)
    expect(hex(returned)).to.equal(expected)
  })

  it('clone() copies the position and then continues independently', () => {
    const original = new Rc4(key)
    original.skip(37)
    const copy = original.clone()
    const ref = new RefRc4(key, 1024 + 37)
    const expected = ref.keystream(64)
    // Advance the original; the clone must not move.
    expect(hex(original.process(new Uint8Array(64)))).to.equal(hex(expected))
    original.skip(1000)
    expect(hex(copy.process(new Uint8Array(64)))).to.equal(hex(expected))
    // And advancing the clone does not move the original.
    const next = ref.keystream(1000 + 64).subarray(1000)
    copy.skip(500)
    expect(hex(original.process(new Uint8Array(64)))).to.equal(hex(next.subarray(0, 64)))
    expect(copy).to.be.instanceOf(Rc4)
  })
})

describe('Rc4: both backends behind CryptoProvider.createRc4', () => {
  const key = unhex('0102030405060708090a0b0c0d0e0f10')

  it('createRc4 of both providers gives the MSE keystream (1024 bytes discarded) with the StreamCipher contract', () => {
    for (const provider of [nodeCryptoProvider, forgeCryptoProvider]) {
      const cipher = provider.createRc4(key)
      expect(['js', 'openssl']).to.include(cipher.backend)
      const input = prng('provider rc4').bytes(100)
      const before = hex(input)
      expect(hex(cipher.process(input)), provider.name).to.equal(hex(new RefRc4(key, 1024).crypt(input)))
      expect(hex(input)).to.equal(before)
    }
    expect(forgeCryptoProvider.createRc4(key).backend).to.equal('js')
  })

  it('in this process (no legacy provider) the node provider falls back to the JavaScript backend', function () {
    if (isOpensslRc4Available()) this.skip()
    expect(nodeCryptoProvider.createRc4(key).backend).to.equal('js')
  })
})

describe('Rc4: OpenSSL backend (OpensslRc4, in a child process with --openssl-legacy-provider)', () => {
  interface Report {
    available: boolean
    providerBackend: string
    streams: string[]
    defaultDiscard: string[]
    skipped: string[][]
    splitInput: string
    splits: string[]
    misaligned: { input: string, output: string, untouched: boolean }[]
    inPlace: { before: string, after: string, same: boolean }
    owned: { before: string, result: string, inputUntouched: boolean, same: boolean }
    clone: { first: string, fromCopy: string, originalNext: string, backend: string }
  }
  let report: Report | undefined
  const keys = RFC6229.map(v => v.key)

  before(function () {
    this.timeout(60_000)
    report = runOpensslChild(['rc4', JSON.stringify(keys)]) as Report | undefined
  })

  beforeEach(function () {
    if (!report) this.skip()
  })

  it('is available there, and nodeCryptoProvider picks it', () => {
    expect(report!.available).to.equal(true)
    expect(report!.providerBackend).to.equal('openssl')
  })

  it('gives the RFC 6229 vectors at every offset (no discard), and 1024 discarded by default', () => {
    RFC6229.forEach(({ key, vectors }, k) => {
      for (const [offset, expected] of Object.entries(vectors)) {
        expect(report!.streams[k]!.slice(Number(offset) * 2, Number(offset) * 2 + 32), `key ${key} offset ${offset}`).to.equal(expected)
      }
      expect(report!.defaultDiscard[k]).to.equal(vectors[1024]! + report!.streams[k]!.slice(2080, 2112))
      expect(report!.skipped[k]).to.deep.equal([240, 1008, 3056, 4080].map(o => vectors[o]))
    })
  })

  it('splitting one buffer at every position into process() + processInPlace() gives the one-call output', () => {
    const key = unhex(keys[1]!)
    const expected = hex(new RefRc4(key, 1024).crypt(unhex(report!.splitInput)))
    expect(report!.splits.length).to.equal(302)
    report!.splits.forEach((out, cut) => expect(out, `cut ${cut}`).to.equal(expected))
  })

  it('misaligned inputs and lengths 0..9 match the reference; process() leaves its input untouched', () => {
    const key = unhex(keys[1]!)
    for (const { input, output, untouched } of report!.misaligned) {
      expect(output, `length ${input.length / 2}`).to.equal(hex(new RefRc4(key, 1024).crypt(unhex(input))))
      expect(untouched).to.equal(true)
    }
  })

  it('processOwned() returns the keystream XOR in new memory, without the copy back processInPlace() makes', () => {
    const key = unhex(keys[1]!)
    const { before, result, inputUntouched, same } = report!.owned
    expect(result).to.equal(hex(new RefRc4(key, 1024).crypt(unhex(before))))
    expect(same).to.equal(false)
    expect(inputUntouched).to.equal(true)
  })

  it('processInPlace() overwrites and returns its buffer; clone() continues independently', () => {
    const key = unhex(keys[1]!)
    const { before, after, same } = report!.inPlace
    expect(same).to.equal(true)
    expect(after).to.equal(hex(new RefRc4(key, 1024).crypt(unhex(before))))
    const ref = new RefRc4(key, 1024 + 37)
    const first = hex(ref.keystream(64))
    expect(report!.clone.first).to.equal(first)
    expect(report!.clone.fromCopy).to.equal(first)
    expect(report!.clone.originalNext).to.equal(hex(ref.keystream(1064).subarray(1000)))
    expect(report!.clone.backend).to.equal('openssl')
  })
})
