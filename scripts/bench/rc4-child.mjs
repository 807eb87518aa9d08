/**
 * One RC4 contender in a fresh process; prints one JSON line (an Rc4ChildReport, or {error}) on stdout.
 *
 *   node [--conditions=source | --openssl-legacy-provider] rc4-child.mjs <contender> [size,size...] [--detached]
 *
 * Plain JavaScript on purpose, started without `--import tsx`: tsx's ESM loader runs its hooks on a worker
 * thread, and starting it detaches an ArrayBuffer, which invalidates V8's process-wide "ArrayBuffer
 * detaching" protector (see `node --trace-protector-invalidation --import tsx -e 1`). From then on optimized
 * code checks every typed-array access for a detached buffer, and byte loops such as RC4 lose about a quarter
 * of their speed. TypeScript (mse-core's Rc4, rc4-measure.ts) is loaded with tsx's in-thread CommonJS API,
 * which does not touch the protector. `--detached` trips the protector on purpose (one structuredClone
 * transfer) to measure the other state, which real processes reach easily (web streams, fetch, workers).
 *
 * Contenders:
 * - `ours-provider`: mse-core's nodeCryptoProvider.createRc4(), the backend the product uses (OpenSSL's RC4
 *   when the process has the legacy provider, else the JavaScript loop).
 * - `ours`, `ours-in-place`: mse-core's JavaScript Rc4 process() / processInPlace().
 * - `upstream-js`: bittorrent-protocol 5's createRC4Cipher JS fallback, through its exported
 *   MessageStreamEncryptor.encrypt() (see core.ts for why); requires that mse.js found no native RC4.
 * - `native`: Node's OpenSSL RC4 as bittorrent-protocol uses it when available: createCipheriv('rc4', key,
 *   ''), 1024 bytes discarded, update() per chunk; start with --openssl-legacy-provider.
 */
import { createCipheriv } from 'node:crypto'
import { require as tsxRequire } from 'tsx/cjs/api'

/** @type {typeof import('./rc4-measure.ts')} */
const measure = tsxRequire('./rc4-measure.ts', import.meta.url)

/** @returns {Promise<{ factory: import('./rc4-measure.ts').Rc4Factory, info?: string }>} */
async function factoryFor (contender) {
  const key = measure.BENCH_KEY
  switch (contender) {
    case 'ours-provider': {
      /** @type {typeof import('mse-core')} */
      const { nodeCryptoProvider } = tsxRequire('mse-core', import.meta.url)
      const backend = nodeCryptoProvider.createRc4(key).backend
      return { factory: () => { const rc4 = nodeCryptoProvider.createRc4(key); return chunk => rc4.process(chunk) }, info: `backend ${backend}` }
    }
    case 'ours':
    case 'ours-in-place': {
      /** @type {typeof import('mse-core')} */
      const { Rc4 } = tsxRequire('mse-core', import.meta.url)
      return contender === 'ours'
        ? { factory: () => { const rc4 = new Rc4(key); return chunk => rc4.process(chunk) } }
        : { factory: () => { const rc4 = new Rc4(key); return chunk => rc4.processInPlace(chunk) } }
    }
    case 'upstream-js': {
      const indexUrl = import.meta.resolve('bittorrent-protocol')
      const mse = await import(new URL('./mse.js', indexUrl).href)
      if (mse.nativeRC4) throw new Error('bittorrent-protocol found native RC4 in this process: not its JS fallback')
      return {
        factory: () => {
          const encryptor = new mse.MessageStreamEncryptor(null)
          encryptor.S = measure.BENCH_S
          encryptor.skeyHex = Buffer.from(measure.BENCH_SKEY).toString('hex')
          encryptor._initializeCiphers('A') // encryptCipher = createRC4Cipher(SHA-1('keyA', S, SKEY)) = BENCH_KEY
          encryptor._isEncrypted = true
          return chunk => encryptor.encrypt(chunk)
        }
      }
    }
    case 'native':
      return {
        factory: () => {
          const cipher = createCipheriv('rc4', key, '')
          cipher.update(new Uint8Array(1024))
          return chunk => cipher.update(chunk)
        }
      }
    default:
      throw new Error(`unknown RC4 contender ${contender}`)
  }
}

async function main () {
  const args = process.argv.slice(2)
  const detached = args.includes('--detached')
  const [contender = '', sizeList] = args.filter(arg => !arg.startsWith('--'))
  if (detached) {
    const buffer = new ArrayBuffer(8)
    structuredClone(buffer, { transfer: [buffer] })
  }
  const { factory } = await factoryFor(contender)
  const sizes = sizeList ? sizeList.split(',').map(Number) : measure.RC4_CHUNK_SIZES
  const knownAnswer = measure.knownAnswer(factory)
  console.log(JSON.stringify({ contender, samples: measure.measureRc4(factory, sizes), knownAnswer }))
}

main().catch(err => {
  console.log(JSON.stringify({ error: err.message }))
})
