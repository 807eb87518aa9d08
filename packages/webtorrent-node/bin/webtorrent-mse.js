#!/usr/bin/env node
// webtorrent-mse launcher: runs the built CLI (dist/cli/main.js) when there is one, else the TypeScript
// source through tsx, so the command works from a fresh clone before any build. Set
// WEBTORRENT_MSE_FROM_SOURCE=1 to run the source even when a build exists.
import { spawn } from 'node:child_process'
import { createCipheriv } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { register as registerHooks } from 'node:module'
import { fileURLToPath } from 'node:url'

/**
 * RC4 on OpenSSL is ~1.7x faster than the best JavaScript loop on 16 KiB piece blocks, but Node 17+ only
 * has it with the legacy provider loaded, which must happen at start-up. So when this process lacks it,
 * run the CLI in a child that has it (stdio shared, signals forwarded, exit code passed on).
 *
 * WEBTORRENT_MSE_NO_REEXEC=1 runs the CLI in this process (with the JavaScript RC4 when this node lacks
 * OpenSSL's). The launcher sets it in that child, which must not start another. Its old name,
 * WEBTORRENT_MSE_JS_RC4=1, is still honoured: users may have set it.
 */
const NO_REEXEC = 'WEBTORRENT_MSE_NO_REEXEC'
const NO_REEXEC_OLD_NAME = 'WEBTORRENT_MSE_JS_RC4'
function hasOpensslRc4 () {
  try {
    createCipheriv('rc4', new Uint8Array(16), null)
    return true
  } catch {
    return false
  }
}

/**
 * True when this process is in its terminal's foreground process group (Linux: /proc/self/stat fields
 * pgrp and tpgid), where the terminal delivers Ctrl-C to every member. False when unknown.
 */
function inForegroundProcessGroup () {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const pgrp = Number(fields[2])
    const tpgid = Number(fields[5])
    return tpgid > 0 && pgrp === tpgid
  } catch {
    return false
  }
}

async function runWithLegacyProvider () {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [NO_REEXEC]: '1' }
  })
  // Ctrl-C in a terminal sends SIGINT to the whole foreground process group, the child included: passing
  // it on as well would make the child see two. So pass on SIGINT only when it cannot have come that way.
  const forward = signal => () => {
    if (signal === 'SIGINT' && inForegroundProcessGroup()) return
    child.kill(signal)
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward(signal))
  const [code, signal] = await new Promise(resolve => {
    child.once('error', () => resolve([null, null]))
    child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal]))
  })
  // 9: this node does not know the flag (or its OpenSSL has no legacy provider): run here instead.
  if (code === null && signal === null) return false
  if (code === 9) return false
  process.exit(code ?? (signal === 'SIGINT' ? 130 : 1))
}

if (!process.env[NO_REEXEC] && !process.env[NO_REEXEC_OLD_NAME] && !hasOpensslRc4()) await runWithLegacyProvider()

const built = new URL('../dist/cli/main.js', import.meta.url)
const source = new URL('../src/cli/main.ts', import.meta.url)

async function load () {
  if (existsSync(fileURLToPath(built)) && !process.env.WEBTORRENT_MSE_FROM_SOURCE) return import(built.href)
  let tsx
  try {
    tsx = await import('tsx/esm/api')
  } catch {
    process.stderr.write('webtorrent-mse: not built (no dist/cli/main.js) and tsx is not installed: run `npm install` and `npm run build`\n')
    process.exit(1)
  }
  // Workspace packages (mse-core, mse-wire) must resolve to their TypeScript source too: add the
  // `source` export condition, as `node --conditions=source` would.
  registerHooks('data:text/javascript,' + encodeURIComponent(
    'export async function resolve (specifier, context, next) {' +
    '  return next(specifier, { ...context, conditions: [...new Set([...context.conditions, "source"])] })' +
    '}'))
  tsx.register()
  return import(source.href)
}

const cli = await load()
await cli.runCli(process.argv.slice(2))
