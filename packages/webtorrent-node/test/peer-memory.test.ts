/**
 * PeerMemory: what each address accepted, bounded, and never downgraded from "works" by a later reset.
 */
import { expect } from 'chai'
import { PeerMemory } from '../src/index.js'
import { DEFAULT_PEER_MEMORY_SIZE } from '../src/dial/peer-memory.js'

type Result = 'works' | 'rejected'
const ADDRESS = '127.0.0.1:6881'

describe('PeerMemory', () => {
  it('knows nothing about an address it never saw, and looking does not add it', () => {
    const memory = new PeerMemory()
    expect(memory.get(ADDRESS)).to.deep.equal({})
    expect(memory.size).to.equal(0)
  })

  describe('one record after another, per mode (table)', () => {
    // previous record (or none) -> new record -> what is known afterwards
    const table: Array<[Result | undefined, Result, Result]> = [
      [undefined, 'works', 'works'],
      [undefined, 'rejected', 'rejected'],
      ['works', 'works', 'works'],
      ['works', 'rejected', 'works'], // a reset after a success is not evidence: keep "works"
      ['rejected', 'works', 'works'], // a success overrides an earlier rejection
      ['rejected', 'rejected', 'rejected']
    ]
    for (const mode of ['mse', 'plaintext'] as const) {
      const record = (memory: PeerMemory, result: Result): void => mode === 'mse' ? memory.recordMse(ADDRESS, result) : memory.recordPlaintext(ADDRESS, result)
      for (const [previous, next, known] of table) {
        it(`${mode}: ${previous ?? 'nothing'} then ${next} -> ${known}`, () => {
          const memory = new PeerMemory()
          if (previous) record(memory, previous)
          record(memory, next)
          expect(memory.get(ADDRESS)[mode]).to.equal(known)
          const other = mode === 'mse' ? 'plaintext' : 'mse'
          expect(memory.get(ADDRESS)[other], 'the other mode is untouched').to.equal(undefined)
          expect(memory.size).to.equal(1)
        })
      }
    }
  })

  it('keeps the two modes independent', () => {
    const memory = new PeerMemory()
    memory.recordMse(ADDRESS, 'rejected')
    memory.recordPlaintext(ADDRESS, 'works')
    memory.recordMse(ADDRESS, 'works')
    memory.recordPlaintext(ADDRESS, 'rejected')
    expect(memory.get(ADDRESS)).to.deep.equal({ mse: 'works', plaintext: 'works' })
  })

  it('keys by ip:port: another port of the same host is another peer', () => {
    const memory = new PeerMemory()
    memory.recordMse('127.0.0.1:1', 'rejected')
    expect(memory.get('127.0.0.1:2')).to.deep.equal({})
    expect(memory.get('127.0.0.2:1')).to.deep.equal({})
  })

  it('is bounded: beyond capacity the least recently recorded address is forgotten', () => {
    const memory = new PeerMemory(3)
    memory.recordMse('a:1', 'works')
    memory.recordMse('b:1', 'rejected')
    memory.recordMse('c:1', 'works')
    memory.recordPlaintext('a:1', 'works') // refreshes a
    memory.recordMse('d:1', 'rejected') // evicts b, the oldest
    expect(memory.size).to.equal(3)
    expect(memory.get('b:1')).to.deep.equal({})
    expect(memory.get('a:1')).to.deep.equal({ mse: 'works', plaintext: 'works' })
    expect(memory.get('c:1')).to.deep.equal({ mse: 'works' })
    expect(memory.get('d:1')).to.deep.equal({ mse: 'rejected' })
  })

  it(`has a default bound of ${DEFAULT_PEER_MEMORY_SIZE} addresses`, () => {
    const memory = new PeerMemory()
    for (let i = 0; i < DEFAULT_PEER_MEMORY_SIZE + 500; i++) memory.recordMse(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:6881`, 'rejected')
    expect(memory.size).to.equal(DEFAULT_PEER_MEMORY_SIZE)
    expect(memory.get('10.0.0.0:6881')).to.deep.equal({}) // among the first 500: forgotten
    const last = DEFAULT_PEER_MEMORY_SIZE + 499
    expect(memory.get(`10.${(last >> 16) & 255}.${(last >> 8) & 255}.${last & 255}:6881`)).to.deep.equal({ mse: 'rejected' })
  })

  it('a capacity of 1 remembers only the latest address', () => {
    const memory = new PeerMemory(1)
    memory.recordMse('a:1', 'works')
    memory.recordMse('b:1', 'works')
    expect(memory.size).to.equal(1)
    expect(memory.get('a:1')).to.deep.equal({})
    expect(memory.get('b:1')).to.deep.equal({ mse: 'works' })
  })
})
