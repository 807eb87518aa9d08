/**
 * Two webtorrent-node clients on loopback, for every (seeder policy x downloader policy) pair. The
 * downloader dials (MSE initiator), the seeder accepts (MSE responder).
 *
 * Expected outcome, from the dial plan (required/preferred dial MSE first, tolerated/disabled dial
 * plaintext first; one retry in the other mode when the peer hangs up without a byte) and from the
 * responder's selection (required/preferred select RC4 when offered, tolerated selects plaintext when
 * offered, disabled refuses MSE, required refuses plaintext):
 *
 *   downloader \ seeder   required          preferred   tolerated             disabled
 *   required              rc4               rc4         rc4 (only RC4 offered) FAILS (encryption-refused)
 *   preferred             rc4               rc4         plaintext-after-mse    plaintext (after MSE retry)
 *   tolerated             rc4 (after retry) plaintext   plaintext              plaintext
 *   disabled              FAILS (plaintext-refused)     plaintext   plaintext  plaintext
 */
import { expect } from 'chai'
import type { EncryptionPolicy } from '../src/index.js'
import { Fixtures, POLICIES, addressOf, contentHash, done, download, nextFailure, seed, wiresOf } from './helpers.js'
import { awaitedLater, seededBytes, sha256, until, within } from 'test-support'

type Method = 'rc4' | 'plaintext-after-mse' | 'plaintext'

interface Connects {
  method: Method
  /** What the downloader dialled on the connection that carried the data. */
  attempt: 'mse' | 'plaintext'
  /** The data connection is the one retry in the other mode. */
  fallback?: 'toPlaintext' | 'toMse'
  /** Error the seeder recorded for the refused first attempt (when there was a retry). */
  seederError?: string
  downloaderError?: string
}

interface Fails {
  fails: true
  seederError: string
  downloaderError?: string
  downloaderAttempt: 'mse' | 'plaintext'
}

const EXPECTED: Record<EncryptionPolicy, Record<EncryptionPolicy, Connects | Fails>> = {
  // downloader policy -> seeder policy -> outcome
  required: {
    required: { method: 'rc4', attempt: 'mse' },
    preferred: { method: 'rc4', attempt: 'mse' },
    tolerated: { method: 'rc4', attempt: 'mse' },
    disabled: { fails: true, seederError: 'encryption-refused', downloaderError: 'peer-closed', downloaderAttempt: 'mse' }
  },
  preferred: {
    required: { method: 'rc4', attempt: 'mse' },
    preferred: { method: 'rc4', attempt: 'mse' },
    tolerated: { method: 'plaintext-after-mse', attempt: 'mse' },
    disabled: { method: 'plaintext', attempt: 'plaintext', fallback: 'toPlaintext', seederError: 'encryption-refused', downloaderError: 'peer-closed' }
  },
  tolerated: {
    required: { method: 'rc4', attempt: 'mse', fallback: 'toMse', seederError: 'plaintext-refused' },
    preferred: { method: 'plaintext', attempt: 'plaintext' },
    tolerated: { method: 'plaintext', attempt: 'plaintext' },
    disabled: { method: 'plaintext', attempt: 'plaintext' }
  },
  disabled: {
    required: { fails: true, seederError: 'plaintext-refused', downloaderAttempt: 'plaintext' },
    preferred: { method: 'plaintext', attempt: 'plaintext' },
    tolerated: { method: 'plaintext', attempt: 'plaintext' },
    disabled: { method: 'plaintext', attempt: 'plaintext' }
  }
}

/** 1 MiB and a bit: 65 pieces of 16 KiB, the last one short. */
const SIZE = 1024 * 1024 + 1234
/** Bound on the two reports of a refused connection (they come within a second; a loaded machine is slow). */
const REFUSAL_BOUND_MS = 10_000

describe('policy matrix: two webtorrent-node clients on loopback', function () {
  this.timeout(20_000)
  const fx = new Fixtures()
  afterEach(() => fx.cleanup())

  for (const seederPolicy of POLICIES) {
    for (const downloaderPolicy of POLICIES) {
      const expected = EXPECTED[downloaderPolicy][seederPolicy]
      const title = 'fails' in expected
        ? `seeder ${seederPolicy} x downloader ${downloaderPolicy}: no connection (${expected.seederError})`
        : `seeder ${seederPolicy} x downloader ${downloaderPolicy}: completes over ${expected.method}${expected.fallback ? ` (retry ${expected.fallback})` : ''}`

      it(title, async () => {
        const seeder = await fx.ours(seederPolicy)
        const downloader = await fx.ours(downloaderPolicy)
        expect(seeder.encryption).to.equal(seederPolicy)
        expect(downloader.encryption).to.equal(downloaderPolicy)
        const data = seededBytes(SIZE, 1000 + POLICIES.indexOf(seederPolicy) * 4 + POLICIES.indexOf(downloaderPolicy))
        const seeding = await seed(seeder, data)
        // Listening before the dial: each side reports the refused connection once it has decided (the
        // downloader's report comes with its retry decision, taken in the same turn).
        const refused = 'fails' in expected
          ? awaitedLater(Promise.all([nextFailure(seeder, 'responder'), nextFailure(downloader, 'initiator')]))
          : undefined
        const torrent = download(downloader, seeding.torrentFile, [addressOf(seeder)])

        if ('fails' in expected) {
          await within(refused!, REFUSAL_BOUND_MS, 'both sides to report the refused connection')
          expect(torrent.done, 'must not complete').to.equal(false)
          expect(torrent.progress).to.equal(0)
          expect(wiresOf(torrent)).to.have.length(0)
          expect(wiresOf(seeding)).to.have.length(0)
          const s = seeder.mseStats
          const d = downloader.mseStats
          expect(s.errors[expected.seederError as keyof typeof s.errors], 'seeder error').to.be.at.least(1)
          expect(s.connected).to.deep.equal({ rc4: 0, 'aes-128-ctr': 0, 'plaintext-after-mse': 0, plaintext: 0 })
          if (expected.downloaderError) expect(d.errors[expected.downloaderError as keyof typeof d.errors], 'downloader error').to.be.at.least(1)
          expect(d.attempts[expected.downloaderAttempt]).to.be.at.least(1)
          // Neither policy allows the other mode: no retry, and not one attempt in the other mode.
          expect(d.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
          expect(d.attempts[expected.downloaderAttempt === 'mse' ? 'plaintext' : 'mse']).to.equal(0)
          expect(d.connected.rc4 + d.connected['plaintext-after-mse']).to.equal(0)
          return
        }

        await done(torrent)
        expect(await contentHash(torrent)).to.equal(sha256(data))

        const [downWire] = wiresOf(torrent)
        await until(() => wiresOf(seeding).length > 0, 2000, 'the seeder\'s wire')
        const [upWire] = wiresOf(seeding)
        expect(downWire.mse).to.include({ role: 'initiator', attempt: expected.attempt, method: expected.method, fallback: expected.fallback !== undefined })
        expect(downWire.mse.error).to.equal(undefined)
        expect(upWire.mse).to.include({ role: 'responder', method: expected.method, fallback: false })
        expect(upWire.mse.attempt).to.equal(undefined)
        // peer.mse is the same record as wire.mse.
        expect([...torrent._peers.values()].map((peer: any) => peer.mse)).to.include(downWire.mse)
        expect([...seeding._peers.values()].map((peer: any) => peer.mse)).to.include(upWire.mse)
        // bittorrent-protocol's own PE is off on both sides: only one MSE layer runs.
        expect(downWire._peEnabled).to.equal(0)
        expect(upWire._peEnabled).to.equal(0)

        const s = seeder.mseStats
        const d = downloader.mseStats
        expect(s.connected[expected.method]).to.equal(1)
        expect(d.connected[expected.method]).to.equal(1)
        expect(s.attempts).to.deep.equal({ mse: 0, plaintext: 0 }, 'the seeder dials nobody')

        if (expected.fallback === undefined) {
          expect(d.attempts).to.deep.equal({ mse: expected.attempt === 'mse' ? 1 : 0, plaintext: expected.attempt === 'plaintext' ? 1 : 0 })
          expect(d.fallbacks).to.deep.equal({ toPlaintext: 0, toMse: 0 })
          expect(s.errors).to.deep.equal({})
          expect(d.errors).to.deep.equal({})
        } else {
          expect(d.attempts).to.deep.equal({ mse: 1, plaintext: 1 })
          expect(d.fallbacks).to.deep.equal({ toPlaintext: expected.fallback === 'toPlaintext' ? 1 : 0, toMse: expected.fallback === 'toMse' ? 1 : 0 })
          expect(s.errors).to.deep.equal({ [expected.seederError!]: 1 })
          expect(d.errors).to.deep.equal(expected.downloaderError ? { [expected.downloaderError]: 1 } : {})
        }
        if (seederPolicy === 'required' || downloaderPolicy === 'required') expect(expected.method).to.equal('rc4')
      })
    }
  }
})
