// One style for the whole tree: neostandard (standard's maintained flat-config successor) with its
// typescript-eslint layer. Formatting is enforced here too (@stylistic rules), so `npm run lint -- --fix`
// is the formatter.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    noJsx: true,
    env: ['node', 'mocha'],
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      // Patch series for upstream projects, styled as upstream wants.
      'upstream/**',
      // Data, not code.
      'test-fixtures/**',
      'scripts/bench/.build/**',
      '**/.scratch/**',
      '.tmp/**',
    ],
  }),
]
