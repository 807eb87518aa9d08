/**
 * Stored socket fuzz cases: test-fixtures/fuzz/socket/crash-*.json, reproducers of failures the socket fuzzer
 * found (timing on a real socket varies, so a reproducer is the case that failed, replayed as it is).
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { CORPUS_DIR } from '../../../mse-core/test/fuzz/corpus.js'
import type { SocketCrash } from './socket-campaign.js'
import type { SocketCase } from './socket-cases.js'

const SOCKET_DIR = `${CORPUS_DIR}socket/`

export interface SocketCorpusEntry { description: string, case: SocketCase }

export function loadSocketCorpus (): Array<{ file: string, entry: SocketCorpusEntry }> {
  let files: string[]
  try {
    files = readdirSync(SOCKET_DIR).filter(f => f.endsWith('.json')).sort()
  } catch {
    return []
  }
  return files.map(file => ({ file, entry: JSON.parse(readFileSync(SOCKET_DIR + file, 'utf8')) as SocketCorpusEntry }))
}

export function writeSocketCrash (crash: SocketCrash): string {
  mkdirSync(SOCKET_DIR, { recursive: true })
  const id = createHash('sha1').update(JSON.stringify(crash.case)).digest('hex').slice(0, 12)
  const path = `${SOCKET_DIR}crash-${id}.json`
  writeFileSync(path, JSON.stringify({ description: crash.error.split('\n')[0]!.slice(0, 300), case: crash.case }, null, 1) + '\n')
  return path
}
