import debugFactory from 'debug'

/**
 * webtorrent-node's log: the patch's decisions (dial modes, retries, refusals, evidence). The namespace is
 * `mse:pool`, the name the README has always told users to enable (`DEBUG=mse:wire,mse:pool`).
 * Typed without debug's own types, which consumers of the published declarations may not have.
 */
export const debug: (formatter: string, ...args: unknown[]) => void = debugFactory('mse:pool')
