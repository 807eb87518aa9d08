import { createHash } from 'node:crypto'
import { expect } from 'chai'
import { SkeyRegistry, skeyFromInfoHash } from '../src/index.js'
import { forgeCryptoProvider } from '../src/forge.js'
import { drbg, hex, sha1 } from 'test-support'
import { buildFlight3 } from './helpers/manual.js'
import { INFO_HASH, expectDone, expectFailed, responderAfterKey } from './helpers/roles.js'

function infoHashes (count: number, length = 20, seed = 'registry'): Uint8Array[] {
  const random = drbg(seed)
  return Array.from({ length: count }, () => random(length))
}

const req2 = (skey: Uint8Array): Uint8Array => sha1('req2', skey)

describe('skey-registry: lookup by HASH(\'req2\', SKEY)', () => {
  const hashes = infoHashes(10_000)

  it('10,000 info hashes added; each is found by HASH(\'req2\', ih) and maps back to itself', () => {
    const registry = new SkeyRegistry()
    for (const ih of hashes) registry.add(ih)
    expect(registry.size).to.equal(10_000)
    for (const ih of hashes) {
      const found = registry.lookup(req2(ih))
      expect(found, hex(ih)).to.not.equal(undefined)
      expect(hex(found!)).to.equal(hex(ih))
      expect(registry.has(ih)).to.equal(true)
    }
  })

  it('unknown hashes, the raw info hash and HASH(\'req1\'/\'req3\', ih) are not found', () => {
    const registry = new SkeyRegistry()
    for (const ih of hashes.slice(0, 1000)) registry.add(ih)
    for (const ih of infoHashes(1000, 20, 'other')) expect(registry.lookup(req2(ih))).to.equal(undefined)
    for (const ih of hashes.slice(0, 50)) {
      expect(registry.lookup(ih)).to.equal(undefined)
      expect(registry.lookup(sha1('req1', ih))).to.equal(undefined)
      expect(registry.lookup(sha1('req3', ih))).to.equal(undefined)
    }
  })

  it('hex strings and bytes name the same torrent; adding twice keeps one entry', () => {
    const registry = new SkeyRegistry()
    registry.add(hex(hashes[0]!))
    registry.add(hashes[0]!)
    registry.add(hex(hashes[0]!).toUpperCase())
    expect(registry.size).to.equal(1)
    expect(hex(registry.lookup(req2(hashes[0]!))!)).to.equal(hex(hashes[0]!))
  })

  it('keeps its own copy of the info hash (the caller may reuse its buffer)', () => {
    const registry = new SkeyRegistry()
    const buffer = hashes[1]!.slice()
    registry.add(buffer)
    buffer.fill(0)
    expect(hex(registry.lookup(req2(hashes[1]!))!)).to.equal(hex(hashes[1]!))
  })

  it('the forge provider builds the same keys', () => {
    const registry = new SkeyRegistry(forgeCryptoProvider)
    for (const ih of hashes.slice(0, 200)) registry.add(ih)
    for (const ih of hashes.slice(0, 200)) expect(hex(registry.lookup(req2(ih))!)).to.equal(hex(ih))
  })
})

describe('skey-registry: changes while running', () => {
  it('delete works while lookups continue: deleted torrents vanish, the others stay', () => {
    const hashes = infoHashes(10_000, 20, 'delete')
    const registry = new SkeyRegistry()
    for (const ih of hashes) registry.add(ih)
    // Interleave deletes and lookups.
    for (let k = 0; k < hashes.length; k++) {
      if (k % 3 === 0) expect(registry.delete(hashes[k]!)).to.equal(true)
      if (k % 3 === 0) expect(registry.delete(hashes[k]!)).to.equal(false)
      const probe = hashes[(k * 7919) % hashes.length]!
      expect(registry.lookup(req2(probe)) !== undefined).to.equal(registry.has(probe))
    }
    expect(registry.size).to.equal(hashes.length - Math.ceil(hashes.length / 3))
    hashes.forEach((ih, k) => {
      expect(registry.lookup(req2(ih)) === undefined, `entry ${k}`).to.equal(k % 3 === 0)
    })
    // Re-adding works.
    registry.add(hashes[0]!)
    expect(hex(registry.lookup(req2(hashes[0]!))!)).to.equal(hex(hashes[0]!))
  })

  it('a torrent removed between flight 1 and flight 3 fails the handshake with unknown-skey; added back, it succeeds', () => {
    const registry = new SkeyRegistry()
    registry.add(INFO_HASH)
    {
      const { a, b } = responderAfterKey({ skeys: registry })
      registry.delete(INFO_HASH)
      expectFailed(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02 }), 2), 'unknown-skey')
    }
    {
      const { a, b } = responderAfterKey({ skeys: registry })
      registry.add(INFO_HASH)
      const done = expectDone(b.receive(buildFlight3(a, { req2Skey: INFO_HASH, provide: 0x02 }), 2))
      expect(hex(done.result.infoHash!)).to.equal(hex(INFO_HASH))
    }
  })
})

describe('skey-registry: v2 info hashes', () => {
  it('a 32-byte (SHA-256) info hash is truncated to its first 20 bytes', () => {
    const v2 = createHash('sha256').update('a v2 torrent').digest()
    const skey = v2.subarray(0, 20)
    expect(hex(skeyFromInfoHash(v2))).to.equal(hex(skey))
    expect(hex(skeyFromInfoHash(v2.toString('hex')))).to.equal(hex(skey))
    const registry = new SkeyRegistry()
    registry.add(v2)
    expect(hex(registry.lookup(req2(skey))!)).to.equal(hex(skey))
    expect(registry.lookup(req2(v2))).to.equal(undefined)
    expect(registry.has(v2)).to.equal(true)
    expect(registry.has(skey)).to.equal(true)
    // The v2 hash and its truncation are the same torrent for MSE.
    expect(registry.delete(skey)).to.equal(true)
    expect(registry.has(v2)).to.equal(false)
  })

  it('10,000 v2 hashes are found by HASH(\'req2\', first 20 bytes)', () => {
    const registry = new SkeyRegistry()
    const hashes = infoHashes(10_000, 32, 'v2')
    for (const ih of hashes) registry.add(ih)
    for (const ih of hashes) expect(hex(registry.lookup(req2(ih.subarray(0, 20)))!)).to.equal(hex(ih.subarray(0, 20)))
  })

  it('other lengths are refused with RangeError', () => {
    for (const n of [0, 19, 21, 31, 33, 64]) {
      expect(() => skeyFromInfoHash(new Uint8Array(n)), String(n)).to.throw(RangeError)
      expect(() => new SkeyRegistry().add(new Uint8Array(n)), String(n)).to.throw(RangeError)
    }
    expect(() => skeyFromInfoHash('xyz')).to.throw()
  })
})
