/**
 * Finding a python3 that can import a Debian python module (python3-libtorrent, python3-scapy): those install
 * for /usr/bin/python3, and a pyenv/venv python3 first on PATH usually cannot see them.
 */
import { runQuick, which } from './peers/common.js'

const found = new Map<string, { python: string, version: string } | null>()

/**
 * $MSE_INTEROP_PYTHON, then /usr/bin/python3, then python3 on PATH: the first that imports `module`, with the
 * module's `__version__`. null when none. Probed once per module.
 */
export function findPythonWith (module: string): { python: string, version: string } | null {
  const cached = found.get(module)
  if (cached !== undefined) return cached
  const candidates = [process.env.MSE_INTEROP_PYTHON, '/usr/bin/python3', which('python3')].filter((c): c is string => !!c)
  let result: { python: string, version: string } | null = null
  for (const python of candidates) {
    const r = runQuick(python, ['-c', `import ${module}; print(${module}.__version__)`], 15000)
    if (r.status === 0) {
      result = { python, version: r.stdout.trim() }
      break
    }
  }
  found.set(module, result)
  return result
}
