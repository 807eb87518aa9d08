import { ENCRYPTION_POLICIES, isEncryptionPolicy, type EncryptionPolicy } from 'mse-core'

/** The environment variable register mode takes its policy from. */
export const POLICY_VARIABLE = 'WEBTORRENT_MSE_ENCRYPTION'

/** A value a user typed into the environment that is not a policy: reported as one line, never a stack trace. */
export class BadEnvironmentError extends Error {
  override readonly name = 'BadEnvironmentError'
}

/** The policy set in WEBTORRENT_MSE_ENCRYPTION, or undefined when it is unset or empty. */
export function policyFromEnvironment (env: NodeJS.ProcessEnv = process.env): EncryptionPolicy | undefined {
  const value = env[POLICY_VARIABLE]
  if (value === undefined || value === '') return undefined
  if (isEncryptionPolicy(value)) return value
  throw new BadEnvironmentError(`${POLICY_VARIABLE}=${JSON.stringify(value)} is not a policy: use one of ${ENCRYPTION_POLICIES.join(', ')} (or leave it unset to map the program's \`secure\` option)`)
}
