import { expect } from 'chai'
import { RandomPool } from '../src/crypto/random-pool.js'

describe('random pool', () => {
  it('hands out every byte once: pieces are copies that never overlap, across refills', () => {
    const pool = new RandomPool()
    const pieces: Uint8Array[] = []
    // 3 x 4096 bytes in uneven pieces: several refills, and a piece that does not fit the rest of a pool.
    for (let i = 0; i < 200; i++) pieces.push(pool.take(1 + (i * 37) % 120))
    for (const piece of pieces) expect(piece.buffer.byteLength, 'a copy, not a view of the pool').to.equal(piece.length)
    // Two 16-byte windows of fresh random bytes coincide with probability ~2^-128: a window seen in two
    // pieces means bytes handed out twice.
    const owner = new Map<string, number>()
    pieces.forEach((piece, index) => {
      for (let at = 0; at + 16 <= piece.length; at++) {
        const key = Buffer.from(piece.subarray(at, at + 16)).toString('hex')
        const first = owner.get(key)
        expect(first === undefined || first === index, `bytes of piece ${first ?? -1} again in piece ${index}`).to.equal(true)
        owner.set(key, index)
      }
    })
  })

  it('gives a request larger than the pool bytes of its own', () => {
    const big = new RandomPool().take(10_000)
    expect(big.length).to.equal(10_000)
    expect(big.some(b => b !== 0)).to.equal(true)
  })

  it('a piece is random, not a zeroed pool', () => {
    const pool = new RandomPool()
    const bytes = pool.take(64)
    expect(bytes.some(b => b !== 0)).to.equal(true)
  })
})
