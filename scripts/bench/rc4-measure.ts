/**
 * The one RC4 throughput loop. Every contender (mse-core, bittorrent-protocol's JS fallback, Node's native
 * RC4) runs it in a fresh child process of its own (rc4-child.mjs), so all three see the same chunk sizes,
 * the same input, the same repetitions, the same clock (process CPU time) and the same JIT starting point.
 * This file depends on nothing but node:crypto.
 */
import { createHash } from 'node:crypto'

/** A cipher as the connection uses it: each call continues one keystream and returns the output. */
export type Rc4Stream = (chunk: Uint8Array) => Uint8Array
/** A fresh stream keyed with BENCH_KEY, its first 1024 keystream bytes already discarded (as MSE does). */
export type Rc4Factory = () => Rc4Stream

/**
 * The key every contender uses. bittorrent-protocol's cipher can only be keyed through its own derivation
 * (mse.js `_initializeCiphers`: SHA-1('keyA', S, SKEY)), so the shared key is that derivation over fixed
 * S and SKEY, and the other contenders get the derived key directly.
 */
export const BENCH_S = Uint8Array.from({ length: 96 }, (_, i) => (i * 37 + 11) & 0xff)
export const BENCH_SKEY = Uint8Array.from({ length: 20 }, (_, i) => (i * 91 + 5) & 0xff)
export const BENCH_KEY = new Uint8Array(createHash('sha1').update('keyA').update(BENCH_S).update(BENCH_SKEY).digest())

/** Socket-read-sized and block-sized chunks. The headline figure is the 16 KiB BitTorrent block. */
export const RC4_CHUNK_SIZES = [1024, 16 * 1024, 64 * 1024, 1024 * 1024] as const
export const RC4_HEADLINE_CHUNK = 16 * 1024
/** Bytes through the cipher per timed repetition (per chunk size). MB means 10^6 bytes. */
export const RC4_BYTES_PER_REP = 16 * 1024 * 1024
/** Per child process and chunk size: untimed, then timed repetitions. */
export const RC4_WARMUP = 2
export const RC4_REPS = 5

export interface Rc4ChildReport {
  contender: string
  /** chunk size -> MB/s of each timed repetition. */
  samples: Record<string, number[]>
  /** SHA-1 of the known-answer output (see `knownAnswer`), to prove all contenders compute the same RC4. */
  knownAnswer: string
  info?: string
}

/** Deterministic input: the same bytes in every process. */
export function benchInput (length: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = 0x12345678
  for (let i = 0; i < length; i++) {
    // xorshift32
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** SHA-1 over a fresh stream's output for 4 KiB of benchInput, sent as 1000 + 3096 bytes. */
export function knownAnswer (factory: Rc4Factory): string {
  const input = benchInput(4096)
  const stream = factory()
  const h = createHash('sha1')
  h.update(stream(input.subarray(0, 1000)))
  h.update(stream(input.subarray(1000)))
  return h.digest('hex')
}

/** Times `factory`'s stream over RC4_BYTES_PER_REP bytes per repetition, for each chunk size. */
export function measureRc4 (factory: Rc4Factory, sizes: readonly number[] = RC4_CHUNK_SIZES): Record<string, number[]> {
  // The known answer is taken by the caller before this: an in-place contender overwrites `input`.
  const input = benchInput(RC4_BYTES_PER_REP)
  const samples: Record<string, number[]> = {}
  let sink = 0
  for (const size of sizes) {
    const stream = factory()
    const chunks: Uint8Array[] = []
    for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size))
    const rep = (): void => {
      for (const chunk of chunks) sink ^= stream(chunk)[0]!
    }
    for (let i = 0; i < RC4_WARMUP; i++) rep()
    const timed: number[] = []
    for (let i = 0; i < RC4_REPS; i++) {
      // CPU time, not wall time: see cpuMs() in lib.ts (shared machines). Microsecond resolution.
      const t0 = process.cpuUsage()
      rep()
      const used = process.cpuUsage(t0)
      const seconds = (used.user + used.system) / 1e6
      timed.push(input.length / 1e6 / seconds)
    }
    samples[String(size)] = timed
  }
  if (sink === -1) console.log(sink) // keeps the outputs observable
  return samples
}
