// bencode 4 and ut_pex 4 ship no types: the part evidence.test.ts uses to feed the real ut_pex decoder and a
// fake tracker.
declare module 'bencode' {
  const bencode: { encode (value: unknown): Uint8Array }
  export default bencode
}

declare module 'ut_pex' {
  /** The BEP 11 extension class to pass to `wire.use()`. */
  export default function utPex (): new (wire: unknown) => object
}
