/**
 * The dial plan, table-driven over every policy x what we know of the peer x the evidence of a failure.
 */
import { expect } from 'chai'
import { fallbackMode, firstConnectMode, type ConnectMode, type EncryptionPolicy, type PeerKnowledge } from '../src/index.js'

const POLICIES: EncryptionPolicy[] = ['required', 'preferred', 'tolerated', 'disabled']
const RESULTS = [undefined, 'works', 'rejected'] as const
const KNOWLEDGE: PeerKnowledge[] = RESULTS.flatMap(mse => RESULTS.flatMap(plaintext => [false, true].map(hinted => {
  const known: PeerKnowledge = {}
  if (mse) known.mse = mse
  if (plaintext) known.plaintext = plaintext
  if (hinted) known.evidence = 'pex'
  return known
})))

const show = (known: PeerKnowledge): string => `mse ${known.mse ?? '?'} / plaintext ${known.plaintext ?? '?'}${known.evidence ? ` / announced MSE (${known.evidence})` : ''}`

describe('dial plan: firstConnectMode', () => {
  // The rules, stated once: required and disabled never look at memory; preferred dials MSE unless the peer
  // is known to hang up on MSE and never announced MSE; tolerated dials plaintext unless the peer is known
  // to hang up on plaintext.
  const expected = (policy: EncryptionPolicy, known: PeerKnowledge): ConnectMode => {
    if (policy === 'required') return 'mse'
    if (policy === 'disabled') return 'plaintext'
    if (policy === 'preferred') return known.mse === 'rejected' && known.evidence === undefined ? 'plaintext' : 'mse'
    return known.plaintext === 'rejected' ? 'mse' : 'plaintext'
  }

  for (const policy of POLICIES) {
    for (const known of KNOWLEDGE) {
      const mode = expected(policy, known)
      it(`${policy}, ${show(known)} -> ${mode}`, () => {
        expect(firstConnectMode(policy, known)).to.equal(mode)
      })
    }
  }

  it('spot checks written out by hand', () => {
    expect(firstConnectMode('preferred', {})).to.equal('mse')
    expect(firstConnectMode('preferred', { mse: 'rejected' })).to.equal('plaintext')
    expect(firstConnectMode('preferred', { mse: 'rejected', evidence: 'tracker' })).to.equal('mse')
    expect(firstConnectMode('preferred', { mse: 'works', plaintext: 'rejected' })).to.equal('mse')
    expect(firstConnectMode('tolerated', {})).to.equal('plaintext')
    expect(firstConnectMode('tolerated', { plaintext: 'rejected' })).to.equal('mse')
    expect(firstConnectMode('tolerated', { mse: 'rejected' })).to.equal('plaintext')
    expect(firstConnectMode('required', { mse: 'rejected', plaintext: 'works' })).to.equal('mse')
    expect(firstConnectMode('disabled', { mse: 'works', plaintext: 'rejected' })).to.equal('plaintext')
  })
})

describe('dial plan: fallbackMode', () => {
  const expected = (policy: EncryptionPolicy, attempted: ConnectMode, closedBeforeFirstByte: boolean, known: PeerKnowledge, alreadyFellBack: boolean): ConnectMode | undefined => {
    // Only a hang-up without a byte is evidence about the mode, and only one retry per connection.
    if (!closedBeforeFirstByte || alreadyFellBack) return undefined
    // required never sends plaintext; disabled never starts MSE.
    if (policy === 'required' || policy === 'disabled') return undefined
    // A peer known to accept the mode we tried is not downgraded because of one reset; for MSE, a peer
    // that announced MSE (ut_pex, BEP 10 e, tracker) counts as known.
    if (attempted === 'mse') return known.mse === 'works' || known.evidence !== undefined ? undefined : 'plaintext'
    return known.plaintext === 'works' ? undefined : 'mse'
  }

  let cases = 0
  for (const policy of POLICIES) {
    for (const attempted of ['mse', 'plaintext'] as ConnectMode[]) {
      for (const closed of [true, false]) {
        for (const fellBack of [false, true]) {
          const rows = KNOWLEDGE.map(known => ({ known, want: expected(policy, attempted, closed, known, fellBack) }))
          cases += rows.length
          const title = `${policy}, tried ${attempted}, ${closed ? 'hung up before a byte' : 'peer spoke first'}, ${fellBack ? 'already a retry' : 'first try'}`
          it(`${title}: ${rows.map(r => `[${show(r.known)}] -> ${r.want ?? 'none'}`).join(', ')}`, () => {
            for (const { known, want } of rows) {
              expect(fallbackMode(policy, attempted, closed, known, fellBack), show(known)).to.equal(want)
            }
          })
        }
      }
    }
  }

  it(`covers all ${4 * 2 * 2 * 2 * 18} combinations`, () => {
    expect(cases).to.equal(576)
  })

  // One test per policy x attempted mode x hang-up (16), so that one broken case does not hide the others.
  for (const policy of POLICIES) {
    for (const attempted of ['mse', 'plaintext'] as ConnectMode[]) {
      for (const closed of [true, false]) {
        it(`invariants, ${policy}, tried ${attempted}, ${closed ? 'hung up before a byte' : 'peer spoke first'}: required never falls back to plaintext, disabled never to MSE, never twice`, () => {
          for (const known of KNOWLEDGE) {
            const first = fallbackMode(policy, attempted, closed, known, false)
            if (policy === 'required') expect(first).to.equal(undefined)
            if (policy === 'disabled') expect(first).to.equal(undefined)
            if (first) expect(first).to.not.equal(attempted)
            expect(fallbackMode(policy, attempted, closed, known, true)).to.equal(undefined)
          }
        })
      }
    }
  }

  it('spot checks written out by hand', () => {
    expect(fallbackMode('preferred', 'mse', true, {}, false)).to.equal('plaintext')
    expect(fallbackMode('preferred', 'mse', true, { mse: 'works' }, false)).to.equal(undefined)
    expect(fallbackMode('preferred', 'mse', false, {}, false)).to.equal(undefined)
    expect(fallbackMode('tolerated', 'plaintext', true, {}, false)).to.equal('mse')
    expect(fallbackMode('tolerated', 'plaintext', true, { plaintext: 'works' }, false)).to.equal(undefined)
    expect(fallbackMode('required', 'mse', true, {}, false)).to.equal(undefined)
    expect(fallbackMode('disabled', 'plaintext', true, {}, false)).to.equal(undefined)
  })
})
