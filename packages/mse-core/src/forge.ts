/**
 * `mse-core/forge`: the portable crypto provider on node-forge (pure JavaScript, no `node:crypto`), the
 * independent oracle of the tests. Its own entry point, so that importing `mse-core` never loads node-forge.
 */
export { forgeCryptoProvider } from './crypto/forge-provider.js'
