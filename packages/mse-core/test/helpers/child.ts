import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * Runs helpers/openssl-child.ts under `node --openssl-legacy-provider` (OpenSSL's RC4 available) and
 * returns its JSON, or undefined when this Node cannot load the legacy provider.
 */
export function runOpensslChild (args: string[]): unknown {
  const script = fileURLToPath(new URL('./openssl-child.ts', import.meta.url))
  const child = spawnSync(process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', '--conditions=source', script, ...args],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (child.status !== 0) {
    if (/legacy|unsupported|digital envelope/i.test(child.stderr)) return undefined
    throw new Error(`openssl child failed (${child.status}): ${child.stderr}`)
  }
  return JSON.parse(child.stdout)
}
