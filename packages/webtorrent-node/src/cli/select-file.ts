import { createInterface } from 'node:readline/promises'
import { UsageError } from './errors.js'
import { formatBytes } from './format.js'
import type { Output } from './output.js'

/** The attempts -i gives before it gives up (each a wrong answer). */
const MAX_ATTEMPTS = 5

/**
 * -i/--interactive-select: lists the files (sorted by path, as webtorrent-cli does) and asks for one on
 * the terminal. Needs a terminal on standard input.
 */
export async function chooseFile (files: Array<{ path: string, length: number }>, out: Output): Promise<number> {
  if (process.stdin.isTTY !== true) throw new UsageError('-i/--interactive-select needs a terminal; use --select <index> instead (-s alone lists the files)')
  const order = files.map((file, index) => ({ file, index })).sort((a, b) => a.file.path.localeCompare(b.file.path))
  const rl = createInterface({ input: process.stdin, output: out.io.stderr as NodeJS.WritableStream })
  try {
    out.io.stderr.write('Choose one file:\n')
    order.forEach(({ file }, n) => out.io.stderr.write(`  ${String(n + 1).padStart(3)}  ${file.path} (${formatBytes(file.length)})\n`))
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const answer = (await rl.question(`file [1-${order.length}]: `)).trim()
      const n = Number(answer)
      if (Number.isInteger(n) && n >= 1 && n <= order.length) return order[n - 1]!.index
    }
    throw new UsageError('no file chosen')
  } finally {
    rl.close()
  }
}

/** The index of the largest file (what a player streams when no --select says otherwise). */
export function largestFile (torrent: any): number {
  let best = 0
  torrent.files.forEach((file: any, i: number) => { if (file.length > torrent.files[best].length) best = i })
  return best
}

/** `-s` alone: the files with their indexes, then exit (webtorrent-cli's behaviour). */
export function listFiles (out: Output, torrent: any): void {
  out.event('files', { files: torrent.files.map((file: any, index: number) => ({ index, path: file.path, length: file.length })) })
  out.result('files:')
  torrent.files.forEach((file: any, index: number) => out.result(`  ${String(index).padEnd(3)} ${file.path} (${formatBytes(file.length)})`))
  out.result('select one with --select <index>, e.g. webtorrent-mse download "magnet:..." --select 0')
}

/** --select or -i named a file the torrent does not have. */
export function noSuchFile (index: number, count: number): UsageError {
  return new UsageError(`there is no file with index ${index}: the torrent has ${count} file${count === 1 ? '' : 's'} (run with -s alone to list them)`, 'bad-file-index')
}
