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
  {
    rules: {
      // `void promise` is how this tree marks a promise it deliberately does not await (typescript-eslint's
      // convention); as an expression elsewhere `void` stays an error.
      'no-void': ['error', { allowAsStatement: true }],
      // Off: it cannot see a loop condition changed by a callback, timer or another async task, which is how
      // the tree's bounded loops are stopped (all 5 hits were such loops).
      'no-unmodified-loop-condition': 'off',
      // A `let` that a closure reads before its one assignment (a timer cleared by a finish() defined above
      // it) would throw in the temporal dead zone as a `const`: the rule's own option leaves those alone.
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }],
    },
  },
]
