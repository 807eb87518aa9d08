/**
 * The TCP listener's backlog (patch/listen-backlog.ts): webtorrent listens with Node's 511, webtorrent-node
 * raises it so that a burst of connections is queued instead of having its SYNs dropped. Read from the
 * kernel itself: for a listening socket, `ss`'s Send-Q column is its backlog (capped at somaxconn).
 */
import { expect } from 'chai'
import { NODE_DEFAULT_BACKLOG, listenBacklogOf as kernelBacklog, somaxconn } from 'test-support'
import WebTorrent from '../src/index.js'
import { attachMseState } from '../src/client-state.js'
import { DEFAULT_LISTEN_BACKLOG } from '../src/patch/listen-backlog.js'
import type { UpstreamClient } from '../src/patch/upstream-types.js'
import { Fixtures, QUIET, listening, portOf } from './helpers.js'

const effective = (backlog: number): number => Math.min(backlog, somaxconn())

describe('listen backlog', function () {
  this.timeout(20_000)
  const fx = new Fixtures()
  afterEach(async () => await fx.cleanup())

  it('upstream webtorrent listens with Node\'s default backlog (what this patch changes)', async () => {
    const client = await fx.upstream(0)
    expect(kernelBacklog(portOf(client))).to.equal(effective(NODE_DEFAULT_BACKLOG))
  })

  it(`webtorrent-node raises it to ${DEFAULT_LISTEN_BACKLOG} by default`, async () => {
    const client = await fx.ours('required')
    expect(kernelBacklog(portOf(client))).to.equal(effective(DEFAULT_LISTEN_BACKLOG))
  })

  it('listenBacklog sets it', async () => {
    const client = await fx.ours('preferred', { listenBacklog: 1000 })
    expect(kernelBacklog(portOf(client))).to.equal(effective(1000))
  })

  it('a plain upstream client gets it when its MSE state attaches (register mode)', async () => {
    const client = await fx.upstream(1)
    expect(kernelBacklog(portOf(client))).to.equal(effective(NODE_DEFAULT_BACKLOG))
    attachMseState(client as UpstreamClient, { listenBacklog: 2000 })
    expect(kernelBacklog(portOf(client))).to.equal(effective(2000))
  })

  it('a bad listenBacklog is a TypeError before any socket is opened', async () => {
    for (const bad of [0, -1, 1.5, 70_000, '4096', Number.NaN]) {
      expect(() => new WebTorrent({ ...QUIET, listenBacklog: bad as number }), String(bad)).to.throw(TypeError, /listenBacklog must be an integer from 1 to 65535/)
    }
    // The accepted bounds, for contrast.
    const smallest = new WebTorrent({ ...QUIET, listenBacklog: 1 })
    try {
      await listening(smallest)
      expect(kernelBacklog(portOf(smallest))).to.equal(1)
    } finally {
      await new Promise<void>(resolve => smallest.destroy(() => resolve()))
    }
  })
})
