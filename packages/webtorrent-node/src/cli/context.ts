import { CliError } from './errors.js'
import { Output, type CliIo, type OutputFlags } from './output.js'

export interface CliContext {
  io: CliIo
  /** This package's version. */
  version: string
  setExitCode: (code: number) => void
}

/**
 * Runs a command's body with the output mode its flags ask for; an error thrown from it is reported
 * (stderr, and an `error` event with --json) and becomes the exit code.
 */
export async function runCommand (ctx: CliContext, flags: OutputFlags, body: (out: Output) => Promise<number>): Promise<void> {
  const out = new Output(ctx.io, flags)
  try {
    ctx.setExitCode(await body(out))
  } catch (error) {
    out.error(error)
    ctx.setExitCode(error instanceof CliError ? error.exitCode : 1)
  }
}
