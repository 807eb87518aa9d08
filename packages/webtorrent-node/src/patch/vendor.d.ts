// compact2string 1.4 ships no types: the part patch/evidence.ts uses (the parser webtorrent's tracker and
// ut_pex clients use, so addresses come out spelled exactly as webtorrent spells them).
declare module 'compact2string' {
  const compact2string: {
    (buffer: Buffer): string
    /** IPv4 peers, 6 bytes each ("a.b.c.d:port"). Throws if the length is not a multiple of 6. */
    multi (buffer: Buffer): string[]
  }
  export default compact2string
}
