/**
 * Section `core`: mse-core against bittorrent-protocol 5.0.9 (what webtorrent 3 runs), side by side in one
 * run: RC4 throughput, DH cost per side, and a complete in-memory MSE handshake.
 *
 * Contenders and how each is reached:
 * - RC4, ours: `new Rc4(key).process(chunk)` (returns a new buffer, the same contract as the other two).
 *   processInPlace() is reported as a detail.
 * - RC4, upstream JS fallback: bittorrent-protocol does not export its `createRC4Cipher`. Options were
 *   (1) reimplement it (that would measure our transcription, not upstream), (2) evaluate a slice of mse.js
 *   source text (fragile, and not the module upstream actually loads), (3) time bulk transfer between two
 *   PE-2 Wires (mixes in streamx, framing and message parsing: not an RC4 figure). mse.js does export
 *   `MessageStreamEncryptor`, whose `encrypt(data)` is exactly the call Wire._push makes per chunk, backed by
 *   createRC4Cipher. So node_modules/bittorrent-protocol/mse.js is imported by path, an encryptor is keyed
 *   through its own `_initializeCiphers('A')` (fixed S and SKEY, see rc4-measure.ts) and `encrypt()` is
 *   timed: upstream's code, unmodified, on the path it really runs. It is the JS fallback only while the
 *   process has no legacy provider (mse.js `nativeRC4` false): checked.
 * - RC4, native OpenSSL: a child with --openssl-legacy-provider.
 *   Every RC4 contender runs in a fresh child of its own (rc4-child.mjs) with the same loop (rc4-measure.ts),
 *   and the children are interleaved over several rounds, samples pooled: JIT state of one contender (or of
 *   the handshake code) cannot leak into another's figure, and load from other processes hits all alike. A
 *   known-answer check proves the three compute the same keystream. The children run without tsx's ESM
 *   loader, which would trip V8's ArrayBuffer-detaching protector and slow every JS byte loop by ~25-45%;
 *   that state is measured separately as a detail (`rc4_mb_s_arraybuffer_detached`).
 * - DH per side, ours: nodeCryptoProvider.dhPublicKey + dhSharedSecret with a fresh 20-byte private key
 *   (one shared DH object, set up by the first call: that one-off cost is reported separately).
 * - DH per side, upstream: what mse.js does per connection, through its own class: a new
 *   MessageStreamEncryptor, whose `dh` getter runs createDiffieHellman(P, 'hex', 2) (OpenSSL's safe-prime
 *   check), then generateKeys() (a 768-bit private key) and computeSecret().
 * - Handshake, ours: InitiatorHandshake (policy preferred, 68-byte IA = the BitTorrent handshake) and
 *   ResponderHandshake exchanging flights synchronously until each holds the other's BitTorrent handshake
 *   (the responder's goes out as ENCRYPT2 payload right after flight 4). RC4 selected.
 * - Handshake, upstream: two Wires piped into each other with PE level 2 (RC4, like ours), driven as
 *   webtorrent's peer.js / conn-pool.js drive them; from constructing the Wires until both emitted
 *   'handshake'. Includes streamx scheduling: that is part of what upstream costs per connection.
 *
 * Timing: warm-up first, medians over repetitions, of process CPU time (process.cpuUsage: user + system),
 * because everything timed is CPU-bound on one thread with no I/O and the machines are small and shared:
 * wall time would count other processes' turns on the CPU. Median wall times are kept in `detail`.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import {
  InitiatorHandshake, ResponderHandshake, SkeyRegistry, generatePrivateKey, nodeCryptoProvider,
  type HandshakeResult, type HandshakeStep
} from 'mse-core'
import {
  cpuMs, fmt, fmtRatio, median, medianMs, medianMsAsync, ratio, round, target,
  type Row, type Section, type SectionReport
} from './lib.js'
import {
  RC4_BYTES_PER_REP, RC4_CHUNK_SIZES, RC4_HEADLINE_CHUNK, RC4_REPS, type Rc4ChildReport
} from './rc4-measure.js'
import {
  loadUpstreamMse, loadUpstreamWire, upstreamVersion, type UpstreamMseModule, type UpstreamWireConstructor
} from './upstream.js'

// ---- RC4 (in child processes) ---------------------------------------------------------------------------

const RC4_ROUNDS = 3
/** Plain JavaScript, started without tsx: see the comment at its top (V8's ArrayBuffer detaching protector). */
const CHILD = fileURLToPath(new URL('./rc4-child.mjs', import.meta.url))

interface Rc4Contender {
  /** Key in the figures. */
  name: string
  /** Argument for rc4-child.mjs. */
  contender: string
  /** Node flags before the script. */
  flags: string[]
  /** Chunk sizes to measure (default: all). */
  sizes?: number[]
  /** Trip V8's ArrayBuffer detaching protector first (see rc4-child.mjs). */
  detached?: boolean
}

const SOURCE = ['--conditions=source']
const RC4_CONTENDERS: Rc4Contender[] = [
  // The product path: nodeCryptoProvider.createRc4 in a process started as webtorrent-mse starts (legacy
  // provider loaded), which selects OpenSSL's RC4.
  { name: 'ours', contender: 'ours-provider', flags: [...SOURCE, '--openssl-legacy-provider'] },
  // The portable JavaScript word loop: what a process without the legacy provider gets.
  { name: 'ours-js', contender: 'ours', flags: SOURCE },
  { name: 'upstream-js', contender: 'upstream-js', flags: SOURCE },
  { name: 'native', contender: 'native', flags: ['--openssl-legacy-provider'] },
  { name: 'ours-in-place', contender: 'ours-in-place', flags: SOURCE, sizes: [RC4_HEADLINE_CHUNK] },
  { name: 'ours-detached', contender: 'ours', flags: SOURCE, sizes: [RC4_HEADLINE_CHUNK], detached: true },
  { name: 'upstream-js-detached', contender: 'upstream-js', flags: SOURCE, sizes: [RC4_HEADLINE_CHUNK], detached: true }
]

function runRc4Child (c: Rc4Contender): Rc4ChildReport | { error: string } {
  // Without the parent's NODE_OPTIONS: a legacy provider there would turn upstream's fallback native.
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const args = [...c.flags, CHILD, c.contender]
  if (c.sizes) args.push(c.sizes.join(','))
  if (c.detached) args.push('--detached')
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000, env })
  const last = child.stdout?.trim().split('\n').pop() ?? ''
  try {
    return JSON.parse(last) as Rc4ChildReport | { error: string }
  } catch {
    return { error: `child ${c.name} exited ${child.status}: ${(child.stderr ?? '').trim().slice(0, 400)}` }
  }
}

interface Rc4Figures {
  /** contender -> chunk size -> median MB/s over all rounds; undefined when the contender failed. */
  mbPerSecond: Record<string, Record<string, number> | undefined>
  knownAnswers: Record<string, string>
  errors: string[]
}

function measureRc4Contenders (): Rc4Figures {
  const pooled: Record<string, Record<string, number[]>> = {}
  const knownAnswers: Record<string, string> = {}
  const errors: string[] = []
  const failed = new Set<string>()
  for (let round = 0; round < RC4_ROUNDS; round++) {
    for (const contender of RC4_CONTENDERS) {
      if (failed.has(contender.name)) continue
      const report = runRc4Child(contender)
      if ('error' in report) {
        failed.add(contender.name)
        errors.push(`RC4 ${contender.name}: ${report.error}`)
        continue
      }
      knownAnswers[contender.name] = report.knownAnswer
      const into = pooled[contender.name] ??= {}
      for (const [size, samples] of Object.entries(report.samples)) (into[size] ??= []).push(...samples)
    }
  }
  const mbPerSecond: Rc4Figures['mbPerSecond'] = {}
  for (const contender of RC4_CONTENDERS) {
    const samples = pooled[contender.name]
    mbPerSecond[contender.name] = failed.has(contender.name) || !samples
      ? undefined
      : Object.fromEntries(Object.entries(samples).map(([size, values]) => [size, median(values)]))
  }
  return { mbPerSecond, knownAnswers, errors }
}

// ---- DH --------------------------------------------------------------------------------------------------

const DH_OURS_PER_REP = 200
const DH_UPSTREAM_PER_REP = 6

function measureDh (mse: UpstreamMseModule) {
  // The first call creates the process-wide DH object (OpenSSL's safe-prime check): a one-off per process.
  const t0 = cpuMs()
  const firstKey = nodeCryptoProvider.dhPublicKey(generatePrivateKey(n => nodeCryptoProvider.randomBytes(n)))
  const firstCallMs = cpuMs() - t0

  const peerKeys = [firstKey]
  for (let i = 1; i < 32; i++) peerKeys.push(nodeCryptoProvider.dhPublicKey(generatePrivateKey(n => nodeCryptoProvider.randomBytes(n))))

  let check = 0
  const ours = medianMs(() => {
    for (let i = 0; i < DH_OURS_PER_REP; i++) {
      const privateKey = generatePrivateKey(n => nodeCryptoProvider.randomBytes(n))
      check ^= nodeCryptoProvider.dhPublicKey(privateKey)[95]!
      check ^= nodeCryptoProvider.dhSharedSecret(privateKey, peerKeys[i & 31]!)[95]!
    }
  }, { warmup: 2, reps: 9 })

  const upstream = medianMs(() => {
    for (let i = 0; i < DH_UPSTREAM_PER_REP; i++) {
      const encryptor = new mse.MessageStreamEncryptor(null)
      check ^= encryptor.dh.generateKeys()[0]!
      check ^= encryptor.dh.computeSecret(peerKeys[i & 31]!)[0]!
    }
  }, { warmup: 1, reps: 7 })
  if (check === -1) console.log(check)

  return {
    ours: ours.median / DH_OURS_PER_REP,
    upstream: upstream.median / DH_UPSTREAM_PER_REP,
    oursWall: ours.wallMedian / DH_OURS_PER_REP,
    upstreamWall: upstream.wallMedian / DH_UPSTREAM_PER_REP,
    oursFirstCallMs: firstCallMs
  }
}

// ---- handshakes ------------------------------------------------------------------------------------------

const PROTOCOL = Uint8Array.from([19, ...Buffer.from('BitTorrent protocol')])
function btHandshake (infoHash: Uint8Array, peerId: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([PROTOCOL, new Uint8Array(8), infoHash, peerId]))
}

const HANDSHAKE_OURS_PER_REP = 40
const HANDSHAKE_UPSTREAM_PER_REP = 3

/**
 * One complete in-memory handshake between our two roles; throws if it does not end as expected. The
 * extension (and with it AES-128-CTR) is off: upstream, the anchor of this row, runs the plain spec's RC4.
 */
function oursHandshake (skeys: SkeyRegistry, infoHash: Uint8Array, peerA: Uint8Array, peerB: Uint8Array): void {
  const btA = btHandshake(infoHash, peerA)
  const btB = btHandshake(infoHash, peerB)
  const a = new InitiatorHandshake({ policy: 'preferred', infoHash, initialPayload: btA, extension: false })
  const b = new ResponderHandshake({ policy: 'preferred', skeys, extension: false })
  b.start(0)
  let toB = a.start(0).send
  let toA: Uint8Array = new Uint8Array(0)
  let doneA: HandshakeResult | undefined
  let doneB: HandshakeResult | undefined
  const settle = (step: HandshakeStep): HandshakeResult | undefined => {
    if (step.status === 'failed') throw step.error
    return step.status === 'done' ? step.result : undefined
  }
  for (let turn = 0; turn < 8 && !(doneA && doneB); turn++) {
    if (toB.length > 0 && !doneB) {
      const step = b.receive(toB, 0)
      toB = new Uint8Array(0)
      doneB = settle(step)
      // B may send ENCRYPT2(payload) right after flight 4: its BitTorrent handshake, in the same write.
      toA = doneB ? Buffer.concat([step.send, doneB.encryptor!.process(btB)]) : step.send
    }
    if (toA.length > 0 && !doneA) {
      const step = a.receive(toA, 0)
      toA = new Uint8Array(0)
      doneA = settle(step)
      toB = step.send
    }
  }
  if (!doneA || !doneB || doneA.method !== 'rc4' ||
      Buffer.compare(doneB.payload, btA) !== 0 || Buffer.compare(doneA.payload, btB) !== 0) {
    throw new Error('mse-core in-memory handshake did not complete as expected')
  }
}

function upstreamHandshake (Wire: UpstreamWireConstructor, infoHash: Uint8Array, peerA: Uint8Array, peerB: Uint8Array): Promise<void> {
  const infoHashHex = Buffer.from(infoHash).toString('hex')
  return new Promise((resolve, reject) => {
    const a = new Wire('tcpOutgoing', 2)
    const b = new Wire('tcpIncoming', 2)
    const timer = setTimeout(() => reject(new Error('upstream handshake timed out')), 10_000)
    let handshakes = 0
    const onHandshake = (): void => {
      if (++handshakes < 2) return
      clearTimeout(timer)
      const ok = a._encryptionMethod === 2 && b._encryptionMethod === 2
      a.destroy()
      b.destroy()
      if (ok) resolve()
      else reject(new Error('upstream handshake did not select RC4'))
    }
    a.once('handshake', onHandshake)
    b.once('handshake', onHandshake)
    // conn-pool.js: asynchronous torrent lookup by HASH('req2', SKEY), then setInfoHash.
    b.once('crypto-infohash', async () => { await Promise.resolve(); b.setInfoHash(infoHashHex) })
    // peer.js: each side sends its BitTorrent handshake once the crypto handshake is done.
    a.once('crypto-handshake', () => a.handshake(infoHashHex, peerA))
    b.once('crypto-handshake', () => b.handshake(infoHashHex, peerB))
    a.pipe(b).pipe(a)
    a.startEncryption(infoHashHex)
  })
}

async function measureHandshakes (Wire: UpstreamWireConstructor) {
  const infoHash = randomBytes(20)
  const peerA = randomBytes(20)
  const peerB = randomBytes(20)
  const skeys = new SkeyRegistry()
  skeys.add(infoHash)
  const ours = medianMs(() => {
    for (let i = 0; i < HANDSHAKE_OURS_PER_REP; i++) oursHandshake(skeys, infoHash, peerA, peerB)
  }, { warmup: 2, reps: 9 })
  const upstream = await medianMsAsync(async () => {
    for (let i = 0; i < HANDSHAKE_UPSTREAM_PER_REP; i++) await upstreamHandshake(Wire, infoHash, peerA, peerB)
  }, { warmup: 1, reps: 7 })
  return {
    ours: ours.median / HANDSHAKE_OURS_PER_REP,
    upstream: upstream.median / HANDSHAKE_UPSTREAM_PER_REP,
    oursWall: ours.wallMedian / HANDSHAKE_OURS_PER_REP,
    upstreamWall: upstream.wallMedian / HANDSHAKE_UPSTREAM_PER_REP
  }
}

// ---- the section -----------------------------------------------------------------------------------------

const kib = (n: number): string => n >= 1024 * 1024 ? `${n / (1024 * 1024)} MiB` : `${n / 1024} KiB`

/** Every figure the core section reports, measured. */
interface CoreFigures {
  dh: ReturnType<typeof measureDh>
  handshake: Awaited<ReturnType<typeof measureHandshakes>>
  /** RC4 MB/s of a contender at a chunk size, null when it did not run. */
  by: (contender: string, size: string) => number | null
  /** The headline chunk size, as `by` keys it. */
  head: string
  rc4: { ours: number | null, upstream_js: number | null, native_openssl: number | null, ours_js: number | null }
  /** All RC4 contenders computed the same cipher. */
  agree: boolean
}

function coreRatios ({ dh, handshake, rc4 }: CoreFigures) {
  return {
    rc4_ours_vs_native: round(ratio(rc4.ours, rc4.native_openssl)),
    rc4_ours_vs_upstream_js: round(ratio(rc4.ours, rc4.upstream_js)),
    dh_upstream_vs_ours: round(ratio(dh.upstream, dh.ours), 1),
    handshake_upstream_vs_ours: round(ratio(handshake.upstream, handshake.ours), 1)
  }
}

function coreTargets (ratios: ReturnType<typeof coreRatios>) {
  return [
    target('RC4 ours >= 1.0x native', 'rc4_ours_vs_native', ratios.rc4_ours_vs_native, 1.0),
    target('RC4 ours >= 2.5x upstream JS', 'rc4_ours_vs_upstream_js', ratios.rc4_ours_vs_upstream_js, 2.5),
    target('DH >= 100x cheaper than upstream', 'dh_upstream_vs_ours', ratios.dh_upstream_vs_ours, 100),
    target('handshake >= 50x cheaper than upstream', 'handshake_upstream_vs_ours', ratios.handshake_upstream_vs_ours, 50)
  ]
}

/** The table: the four headline rows with their targets, then the detail rows. */
function coreRows ({ dh, handshake, by, head, rc4 }: CoreFigures, ratios: ReturnType<typeof coreRatios>, targets: ReturnType<typeof coreTargets>): Row[] {
  const status = (i: number): string => {
    const t = targets[i]!
    return `>= ${t.min}x ${t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'MISS'}`
  }
  const rows: Row[] = [
    [`RC4 MB/s (${kib(RC4_HEADLINE_CHUNK)} chunks) vs native`, fmt(rc4.ours), `${fmt(rc4.native_openssl)} native`, fmtRatio(ratios.rc4_ours_vs_native), status(0)],
    [`RC4 MB/s (${kib(RC4_HEADLINE_CHUNK)} chunks) vs upstream JS`, fmt(rc4.ours), `${fmt(rc4.upstream_js)} upstream JS`, fmtRatio(ratios.rc4_ours_vs_upstream_js), status(1)],
    ['DH ms per side', fmt(dh.ours, 3), fmt(dh.upstream, 2), fmtRatio(ratios.dh_upstream_vs_ours), status(2)],
    ['MSE handshake ms (both sides)', fmt(handshake.ours, 3), fmt(handshake.upstream, 2), fmtRatio(ratios.handshake_upstream_vs_ours), status(3)]
  ]
  for (const size of RC4_CHUNK_SIZES) {
    const s = String(size)
    rows.push([
      `  RC4 MB/s, ${kib(size)} chunks`, fmt(by('ours', s)),
      `${fmt(by('native', s))} native, ${fmt(by('upstream-js', s))} JS`,
      fmtRatio(ratio(by('ours', s), by('native', s))), 'detail: ratio vs native'
    ])
  }
  rows.push([`  RC4 MB/s, ${kib(RC4_HEADLINE_CHUNK)}, JavaScript loop`, fmt(rc4.ours_js), `${fmt(rc4.native_openssl)} native`,
    fmtRatio(ratio(rc4.ours_js, rc4.native_openssl)), `detail: no legacy provider; ${fmtRatio(ratio(rc4.ours_js, rc4.upstream_js))} upstream JS`])
  rows.push([`  RC4 MB/s in place, ${kib(RC4_HEADLINE_CHUNK)}`, fmt(by('ours-in-place', head)), '', '', 'detail: processInPlace()'])
  rows.push([
    `  RC4 MB/s, ${kib(RC4_HEADLINE_CHUNK)}, AB detached`, fmt(by('ours-detached', head)), `${fmt(by('upstream-js-detached', head))} JS`,
    fmtRatio(ratio(by('ours-detached', head), by('upstream-js-detached', head))), 'detail: ratio vs JS; V8 protector tripped'
  ])
  rows.push(['  DH first call (shared object setup)', fmt(dh.oursFirstCallMs, 2), '', '', 'detail: ms, once per process'])
  return rows
}

/** How the figures were measured. */
function coreNotes (agree: boolean): string[] {
  return [
    `RC4: each contender in its own child process, ${RC4_ROUNDS} interleaved rounds x ${RC4_REPS} runs of ` +
    `${RC4_BYTES_PER_REP / (1024 * 1024)} MiB, median of CPU time; MB = 10^6 bytes. Upstream JS = bittorrent-protocol ` +
    `${upstreamVersion} mse.js MessageStreamEncryptor.encrypt(); native = createCipheriv('rc4') with --openssl-legacy-provider.`,
    `RC4 known-answer check across contenders: ${agree ? 'identical output' : 'MISMATCH'}.`,
    'Handshake: ours = initiator+responder objects, 68-byte IA, RC4, until both hold the peer\'s BitTorrent handshake; ' +
    'upstream = two PE-2 Wires piped together until both emit \'handshake\'.'
  ]
}

/** The machine-readable results. */
function coreResults ({ dh, handshake, by, head, rc4, agree }: CoreFigures) {
  return {
    rc4_mb_s: { ours: round(rc4.ours, 1), upstream_js: round(rc4.upstream_js, 1), native_openssl: round(rc4.native_openssl, 1) },
    dh_ms_per_side: { ours: round(dh.ours, 4), upstream: round(dh.upstream, 3) },
    handshake_ms: { ours: round(handshake.ours, 4), upstream: round(handshake.upstream, 3) },
    detail: {
      core: {
        upstream: `bittorrent-protocol@${upstreamVersion}`,
        rc4_chunk_bytes: RC4_HEADLINE_CHUNK,
        rc4_mb_s_by_chunk: Object.fromEntries(RC4_CHUNK_SIZES.map(size => [String(size), {
          ours: round(by('ours', String(size)), 1),
          upstream_js: round(by('upstream-js', String(size)), 1),
          native_openssl: round(by('native', String(size)), 1)
        }])),
        rc4_ours_in_place_mb_s: round(by('ours-in-place', head), 1),
        // After any ArrayBuffer was detached in the process (V8's protector invalidated): see rc4-child.mjs.
        rc4_mb_s_arraybuffer_detached: { ours: round(by('ours-detached', head), 1), upstream_js: round(by('upstream-js-detached', head), 1) },
        rc4_known_answer_agrees: agree,
        dh_ours_first_call_ms: round(dh.oursFirstCallMs, 3),
        wall_ms: {
          dh_per_side: { ours: round(dh.oursWall, 4), upstream: round(dh.upstreamWall, 3) },
          handshake: { ours: round(handshake.oursWall, 4), upstream: round(handshake.upstreamWall, 3) }
        }
      }
    }
  }
}

export const coreSection: Section = {
  name: 'core',
  description: 'mse-core vs bittorrent-protocol 5: RC4 MB/s, DH ms per side, in-memory handshake ms',

  async run (): Promise<SectionReport> {
    const mse = await loadUpstreamMse()
    const Wire = await loadUpstreamWire()
    const notes: string[] = []

    // DH first: the first call of our provider is timed as the one-off it is.
    const dh = measureDh(mse)
    const handshake = await measureHandshakes(Wire)
    const rc4Figures = measureRc4Contenders()
    notes.push(...rc4Figures.errors)

    // All contenders must compute the same cipher, or the comparison means nothing.
    const answers = Object.values(rc4Figures.knownAnswers)
    const agree = answers.length > 0 && answers.every(v => v === answers[0])
    if (!agree) notes.push(`RC4 OUTPUTS DIFFER: ${JSON.stringify(rc4Figures.knownAnswers)}`)

    const head = String(RC4_HEADLINE_CHUNK)
    const by = (contender: string, size: string): number | null => rc4Figures.mbPerSecond[contender]?.[size] ?? null
    const rc4 = { ours: by('ours', head), upstream_js: by('upstream-js', head), native_openssl: by('native', head), ours_js: by('ours-js', head) }
    const figures: CoreFigures = { dh, handshake, by, head, rc4, agree }
    const ratios = coreRatios(figures)
    const targets = coreTargets(ratios)
    const rows = coreRows(figures, ratios, targets)
    notes.push(...coreNotes(agree))
    return { results: coreResults(figures), ratios, targets, rows, notes }
  }
}
