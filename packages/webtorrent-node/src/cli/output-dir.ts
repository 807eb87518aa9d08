import { randomBytes } from 'node:crypto'
import { mkdir, open, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { CliError } from './errors.js'

function failure (dir: string, reason: string): CliError {
  return new CliError(`cannot use ${dir} as the download directory: ${reason} (choose another with -o/--out)`, 'bad-output-dir')
}

function reasonOf (error: unknown): string {
  const e = error as NodeJS.ErrnoException
  switch (e.code) {
    case 'ENOTDIR': return 'a part of the path is a file, not a folder'
    case 'EEXIST': return 'it exists and is not a folder'
    case 'EACCES': case 'EPERM': return 'permission denied'
    case 'EROFS': return 'read-only file system'
    case 'ENOENT': return 'the folder cannot be created there'
    case 'ENOSPC': return 'no space left on the device'
    default: return e.message ?? String(error)
  }
}

/**
 * Makes sure `dir` exists and takes files, creating missing folders one level at a time. Node's
 * `mkdir(..., { recursive: true })` never returns on some paths (under /proc it retries forever), and
 * webtorrent only finds out at the first piece it writes; so walk the path ourselves (bounded by its depth)
 * and write a probe file.
 */
export async function ensureOutputDirectory (dir: string): Promise<void> {
  const missing: string[] = []
  let current = path.resolve(dir)
  for (;;) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw failure(dir, reasonOf(error))
    })
    if (info) {
      if (!info.isDirectory()) throw failure(dir, missing.length === 0 ? 'it exists and is not a folder' : `${current} is a file, not a folder`)
      break
    }
    missing.unshift(current)
    const parent = path.dirname(current)
    if (parent === current) throw failure(dir, 'no folder of the path exists')
    current = parent
  }
  for (const folder of missing) {
    await mkdir(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw failure(dir, reasonOf(error))
    })
    const info = await stat(folder).catch(() => undefined)
    if (!info?.isDirectory()) throw failure(dir, `${folder} could not be created`)
  }
  const probe = path.join(dir, `.webtorrent-mse-probe-${randomBytes(6).toString('hex')}`)
  try {
    const handle = await open(probe, 'wx')
    await handle.close()
  } catch (error) {
    throw failure(dir, reasonOf(error))
  } finally {
    await rm(probe, { force: true }).catch(() => {})
  }
}
