import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import WebTorrent from '../src/index.js'
import { fakeTracker } from './helpers.js'

async function announcesFor (encryption: 'required' | 'preferred' | 'disabled', getAnnounceOpts?: () => object): Promise<URLSearchParams> {
  const tracker = await fakeTracker()
  const client = new WebTorrent({ encryption, dht: false, lsd: false, natUpnp: false, natPmp: false, utPex: false, webSeeds: false, utp: false })
  try {
    const infoHash = randomBytes(20).toString('hex')
    client.add(`magnet:?xt=urn:btih:${infoHash}&tr=${encodeURIComponent(tracker.url)}`, { getAnnounceOpts })
    const deadline = Date.now() + 10_000
    while (tracker.announces.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    expect(tracker.announces.length, 'the tracker got an announce').to.be.greaterThan(0)
    return tracker.announces[0]!
  } finally {
    await new Promise<void>(resolve => client.destroy(() => resolve()))
    await tracker.close()
  }
}

describe('tracker hints: supportcrypto / requirecrypto', () => {
  it('required announces supportcrypto=1 and requirecrypto=1', async () => {
    const query = await announcesFor('required')
    expect(query.get('supportcrypto')).to.equal('1')
    expect(query.get('requirecrypto')).to.equal('1')
  })

  it('preferred announces supportcrypto=1 only', async () => {
    const query = await announcesFor('preferred')
    expect(query.get('supportcrypto')).to.equal('1')
    expect(query.has('requirecrypto')).to.equal(false)
  })

  it('disabled announces neither', async () => {
    const query = await announcesFor('disabled')
    expect(query.has('supportcrypto')).to.equal(false)
    expect(query.has('requirecrypto')).to.equal(false)
  })

  it("keeps the caller's own getAnnounceOpts parameters", async () => {
    const query = await announcesFor('required', () => ({ mine: 'yes' }))
    expect(query.get('mine')).to.equal('yes')
    expect(query.get('requirecrypto')).to.equal('1')
  })
})
