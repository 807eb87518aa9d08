// Lists the longest functions in the tree (issue 12 asks for the ten longest before and after a
// clean-up). It parses each source file with the TypeScript compiler, so arrow functions, methods
// and nested functions are all counted by their own line span.
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import ts from 'typescript'

interface FunctionSpan { file: string, name: string, line: number, lines: number }

// `--without-suites` leaves out mocha's describe/it callbacks, which are long by nature.
const withoutSuites = process.argv.includes('--without-suites')
const count = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 10)
const suiteCallees = new Set(['describe', 'it', 'describe.skip', 'it.skip', 'describe.only', 'it.only'])
const files = execFileSync('git', ['ls-files', '*.ts'], { encoding: 'utf8' })
  .split('\n')
  .filter((file) => file !== '' && !file.endsWith('.d.ts') && !file.startsWith('upstream/'))

const spans: FunctionSpan[] = []
for (const file of files) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined && !(withoutSuites && isSuiteCallback(node))) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
      spans.push({ file, name: nameOf(node), line: start + 1, lines: end - start + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
}

function isSuiteCallback (node: ts.Node): boolean {
  return ts.isCallExpression(node.parent) && suiteCallees.has(node.parent.expression.getText())
}

function nameOf (node: ts.Node): string {
  const named = node as { name?: ts.Node }
  if (named.name !== undefined) return named.name.getText()
  const parent = node.parent
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText()
  if (ts.isCallExpression(parent)) {
    const callee = parent.expression.getText()
    const first = parent.arguments[0]
    const label = first !== undefined && ts.isStringLiteral(first) ? ` ${JSON.stringify(first.text)}` : ''
    return `${callee}(${label.trim()}) callback`
  }
  return '(anonymous)'
}

spans.sort((a, b) => b.lines - a.lines)
for (const span of spans.slice(0, count)) {
  console.log(`${String(span.lines).padStart(5)}  ${span.file}:${span.line}  ${span.name}`)
}
