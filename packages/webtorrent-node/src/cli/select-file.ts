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
