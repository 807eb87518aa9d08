/**
 * One side of MSE built by hand from the reference primitives (BigInt DH, createHash SHA-1, textbook RC4),
 * so tests can send exactly the bytes they want (adversarial pads, lengths, methods) to the handshake class
 * under test, and still know S and both keystreams.
 */
import { RefRc4, concat, drbg, refPublicKey, refSecret, refStreams, sha1, u16, u32, xor } from 'test-support'

export class ManualSide {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
  private readonly padBytes: (n: number) => Uint8Array
  secret: Uint8Array | undefined
  /** Our sending stream (A: keyA, B: keyB) and the peer's. */
  out: RefRc4 | undefined
  in: RefRc4 | undefined

  constructor (readonly role: 'initiator' | 'responder', seed: string) {
    const random = drbg('manual:' + seed)
    this.privateKey = random(20)
    this.publicKey = refPublicKey(this.privateKey)
    this.padBytes = random
  }

  /** Y followed by `padLength` random pad bytes. */
  keyFlight (padLength: number): Uint8Array {
    return concat(this.publicKey, this.padBytes(padLength))
  }

  randomBytes (length: number): Uint8Array {
    return this.padBytes(length)
  }

  /** Takes the peer's 96-byte key; computes S and both RC4 streams for `skey`. */
  setPeerKey (peerKey: Uint8Array, skey: Uint8Array): Uint8Array {
    this.secret = refSecret(this.privateKey, peerKey.subarray(0, 96))
    const { aToB, bToA } = refStreams(this.secret, skey)
    if (this.role === 'initiator') {
      this.out = aToB
      this.in = bToA
    } else {
      this.out = bToA
      this.in = aToB
    }
    return this.secret
  }
}

export interface Flight3Options {
  /** SKEY whose HASH('req2') is sent (default: the one the streams were derived with). */
  req2Skey: Uint8Array
  provide: number
  padCLength?: number
  /** Value written in len(PadC) if it should differ from the pad actually sent. */
  padCLengthField?: number
  ia?: Uint8Array
  iaLengthField?: number
  /** XOR mask for the 8 VC bytes before encryption (a corrupted VC). */
  vcMask?: Uint8Array
}

/** Flight 3 from a hand-built A: req1, req2^req3, ENCRYPT(VC, provide, len(PadC), PadC, len(IA)), ENCRYPT(IA). */
export function buildFlight3 (a: ManualSide, options: Flight3Options): Uint8Array {
  const s = a.secret!
  const padC = new Uint8Array(options.padCLength ?? 0)
  const ia = options.ia ?? new Uint8Array(0)
  const vc = options.vcMask ? options.vcMask.slice(0, 8) : new Uint8Array(8)
  const header = concat(vc, u32(options.provide >>> 0), u16(options.padCLengthField ?? padC.length), padC,
    u16(options.iaLengthField ?? ia.length))
  return concat(
    sha1('req1', s),
    xor(sha1('req2', options.req2Skey), sha1('req3', s)),
    a.out!.crypt(header),
    a.out!.crypt(ia)
  )
}

export interface Flight4Options {
  select: number
  padDLength?: number
  padDLengthField?: number
}

/** Flight 4 from a hand-built B: ENCRYPT(VC, crypto_select, len(PadD), PadD). */
export function buildFlight4 (b: ManualSide, options: Flight4Options): Uint8Array {
  const padD = new Uint8Array(options.padDLength ?? 0)
  return b.out!.crypt(concat(new Uint8Array(8), u32(options.select >>> 0), u16(options.padDLengthField ?? padD.length), padD))
}
