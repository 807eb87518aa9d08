/**
 * The fuzz corpus on disk: test-fixtures/fuzz/<role>/*.json, one case per file. `seed-*` files are the seed
 * corpus (scripts/fuzz/make-seeds.ts), `crash-*` files are reproducers of failures the fuzzer found. Each
 * may name the outcome it must end with (`expect`), checked on replay.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Crash } from './campaign.js'
import type { FuzzCase, Role } from './shapes.js'

export const CORPUS_DIR = fileURLToPath(new URL('../../../../test-fixtures/fuzz/', import.meta.url))

export interface CorpusEntry {
  role: Role
  description: string
  /** The outcome the case must end with (`done:rc4`, `failed:bad-vc`, ...), if fixed. */
  expect?: string
  case: FuzzCase
}

export function corpusDir (role: Role): string {
  return `${CORPUS_DIR}${role}/`
}

/** Every stored case of a role, by file name, sorted. */
export function loadCorpus (role: Role): Array<{ file: string, entry: CorpusEntry }> {
  let files: string[]
  try {
    files = readdirSync(corpusDir(role)).filter(f => f.endsWith('.json')).sort()
  } catch {
    return []
  }
  return files.map(file => ({ file, entry: JSON.parse(readFileSync(corpusDir(role) + file, 'utf8')) as CorpusEntry }))
}

export function writeCorpusEntry (name: string, entry: CorpusEntry): string {
  mkdirSync(corpusDir(entry.role), { recursive: true })
  const path = `${corpusDir(entry.role)}${name}.json`
  writeFileSync(path, JSON.stringify(entry, null, 1) + '\n')
  return path
}

/** Stores a crash as crash-<hash of the case>.json; returns the path. */
export function writeCrash (crash: Crash): string {
  const id = createHash('sha1').update(JSON.stringify(crash.case)).digest('hex').slice(0, 12)
  return writeCorpusEntry(`crash-${id}`, { role: crash.role, description: crash.error.split('\n')[0]!.slice(0, 300), case: crash.case })
}
