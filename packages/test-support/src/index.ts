/** Test support shared across the monorepo's packages and scripts (private; see README.md). */
export * from './wait.js'
export * from './net.js'
export * from './random.js'
export * from './reference.js'
export * from './relay.js'
export * from './crash-guard.js'
export * from './transcripts.js'
export * from './unpadded-req3.js'
