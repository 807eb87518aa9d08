/**
 * Parity with webtorrent-cli 6.0.1 (a devDependency): its yargs option table and command list are read
 * from its own bin/cmd.js at test time (parsed with the TypeScript compiler, never executed or copied),
 * and every command, argument, flag, alias, value kind and meaningful default must exist in ours.
 */
import { expect } from 'chai'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import type { Command, Option } from 'commander'
import { buildProgram } from '../src/cli/main.js'

type Literal = string | number | boolean | undefined

interface TheirOption {
  key: string
  group: string
  props: Record<string, Literal>
}

interface TheirCommand {
  names: string[]
}

function literal (node: ts.Expression): Literal {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text
  if (ts.isNumericLiteral(node)) return Number(node.text)
  if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(node.operand)) return -Number(node.operand.text)
  if (node.kind === ts.SyntaxKind.TrueKeyword) return true
  if (node.kind === ts.SyntaxKind.FalseKeyword) return false
  return undefined
}

function propertyName (name: ts.PropertyName): string {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text
  throw new Error(`unexpected property name ${ts.SyntaxKind[name.kind]}`)
}

/** The `const options = { group: { key: { ... } } }` and `const commands = [...]` of webtorrent-cli's cmd.js. */
async function readWebtorrentCli (): Promise<{ options: TheirOption[], commands: TheirCommand[] }> {
  const file = fileURLToPath(import.meta.resolve('webtorrent-cli/bin/cmd.js'))
  const source = ts.createSourceFile(file, await readFile(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS)
  const declarations = new Map<string, ts.Expression>()
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) declarations.set(node.name.text, node.initializer)
    ts.forEachChild(node, visit)
  }
  visit(source)
  const optionsNode = declarations.get('options')
  const commandsNode = declarations.get('commands')
  if (!optionsNode || !ts.isObjectLiteralExpression(optionsNode)) throw new Error('webtorrent-cli: no `const options = {...}` in bin/cmd.js')
  if (!commandsNode || !ts.isArrayLiteralExpression(commandsNode)) throw new Error('webtorrent-cli: no `const commands = [...]` in bin/cmd.js')

  const options: TheirOption[] = []
  for (const group of optionsNode.properties) {
    if (!ts.isPropertyAssignment(group) || !ts.isObjectLiteralExpression(group.initializer)) continue
    for (const option of group.initializer.properties) {
      if (!ts.isPropertyAssignment(option) || !ts.isObjectLiteralExpression(option.initializer)) continue
      const props: Record<string, Literal> = {}
      for (const prop of option.initializer.properties) {
        if (ts.isPropertyAssignment(prop)) props[propertyName(prop.name)] = literal(prop.initializer)
      }
      options.push({ key: propertyName(option.name), group: propertyName(group.name), props })
    }
  }
  const commands: TheirCommand[] = []
  for (const element of commandsNode.elements) {
    if (!ts.isObjectLiteralExpression(element)) continue
    const command = element.properties.find(p => ts.isPropertyAssignment(p) && propertyName(p.name) === 'command') as ts.PropertyAssignment | undefined
    if (!command) continue
    const value = command.initializer
    const names = ts.isArrayLiteralExpression(value) ? value.elements.map(e => literal(e)) : [literal(value)]
    commands.push({ names: names.filter((n): n is string => typeof n === 'string') })
  }
  return { options, commands }
}

/** `download [torrent-ids...]` -> name and arguments. */
function parseUsage (usage: string): { name: string, args: Array<{ name: string, required: boolean, variadic: boolean }> } {
  const [name, ...rest] = usage.split(' ')
  return {
    name: name!,
    args: rest.map(arg => ({ name: arg.slice(1, -1).replace(/\.\.\.$/, ''), required: arg.startsWith('<'), variadic: arg.endsWith('...>') || arg.endsWith('...]') }))
  }
}

const program = buildProgram({ io: { stdout: process.stdout, stderr: process.stderr }, version: '0.0.0', setExitCode: () => {} })
const ours = (name: string): Command => {
  const command = program.commands.find(c => c.name() === name)
  if (!command) throw new Error(`our CLI has no command ${name}`)
  return command
}

const theirs = await readWebtorrentCli()

/** Options that fetching metadata only has no use for (players, HTTP server, selection, seeding). */
const DOWNLOAD_ONLY_GROUPS = new Set(['streaming', 'simple'])
const DOWNLOAD_ONLY_KEYS = new Set(['p', 'pip', 'playlist', 'player-args', 'not-on-top', 'keep-seeding', 'no-quit', 'quit', 'on-done', 'on-exit'])

describe('webtorrent-cli 6.0.1 parity (its option table, read from its bin/cmd.js)', function () {
  it('reads a plausible table from webtorrent-cli', function () {
    expect(theirs.options.length).to.be.at.least(30)
    expect(theirs.commands.length).to.be.at.least(7)
    expect(theirs.options.find(o => o.key === 'p')?.props).to.include({ alias: 'port', default: 8000 })
  })

  describe('commands', function () {
    for (const command of theirs.commands) {
      const [usage, ...aliases] = command.names
      it(`${command.names.join(', ')}`, function () {
        const { name, args } = parseUsage(usage!)
        if (name === 'help') {
          expect((program as any)._getHelpCommand?.()?.name(), 'a help command').to.equal('help')
          return
        }
        const mine = ours(name)
        const myArgs = mine.registeredArguments.map(a => ({ name: a.name(), required: a.required, variadic: a.variadic }))
        expect(myArgs, `arguments of ${name}`).to.deep.equal(args)
        // `$0`: the default command (webtorrent-cli <torrent-id> downloads).
        if (aliases.includes('$0')) expect((program as any)._defaultCommandName, 'the default command').to.equal(name)
      })
    }
  })

  describe('flags', function () {
    for (const option of theirs.options) {
      const { key, props } = option
      if (props.hidden === true) continue
      const alias = typeof props.alias === 'string' ? props.alias : undefined
      const long = `--${key.length === 1 ? alias! : key}`
      const short = key.length === 1 ? `-${key}` : undefined
      const downloadmeta = !DOWNLOAD_ONLY_GROUPS.has(option.group) && !DOWNLOAD_ONLY_KEYS.has(key)
      const commands = ['download', 'seed', ...(downloadmeta ? ['downloadmeta'] : [])]
      it(`${short ? `${short}, ` : ''}${long} (${String(props.type ?? 'optional value')}${props.default !== undefined ? `, default ${String(props.default)}` : ''}) on ${commands.join(', ')}`, function () {
        for (const name of commands) {
          const mine: Option | undefined = ours(name).options.find(o => o.long === long)
          expect(mine, `${name} ${long}`).to.not.equal(undefined)
          expect(mine!.short ?? undefined, `${name} ${long}: short alias`).to.equal(short)
          if (props.type === 'boolean') {
            expect(mine!.required || mine!.optional, `${name} ${long} takes no value`).to.equal(false)
          } else if (props.requiresArg === true) {
            expect(mine!.required, `${name} ${long} requires a value`).to.equal(true)
          } else {
            expect(mine!.optional, `${name} ${long} takes an optional value`).to.equal(true)
          }
          if (props.default !== undefined && !key.startsWith('no-')) expect(mine!.defaultValue, `${name} ${long}: default`).to.equal(props.default)
          // --no-quit: yargs' hidden `quit` defaults to true; commander's lone --no-quit does the same.
          if (key.startsWith('no-')) {
            expect(mine!.negate).to.equal(true)
            expect(theirs.options.find(o => o.key === key.slice(3))?.props.default).to.equal(true)
          }
        }
      })
    }

    it('-h, --help and -v, --version', function () {
      const help = program.helpInformation()
      expect(help).to.include('-h, --help')
      expect(help).to.include('-v, --version')
    })
  })
})
