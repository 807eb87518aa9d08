/**
 * Which files register mode's loader hooks treat as a copy of webtorrent: only the main file of a package
 * named `webtorrent`, wherever it is installed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { expect } from 'chai'
import { SEAM_MODULES, seamModulesIn, webtorrentPackageDir } from '../src/patch/webtorrent-package.js'

describe('register mode: recognising a copy of webtorrent', () => {
  let root: string
  before(() => { root = mkdtempSync(join(tmpdir(), 'wt-package-')) })
  after(() => rmSync(root, { recursive: true, force: true }))

  /** A package installed as `<root>/<project>/node_modules/webtorrent`, with this manifest and these empty files. */
  function fakePackage (project: string, manifest: Record<string, unknown>, files: string[]): string {
    const dir = join(root, project, 'node_modules', 'webtorrent')
    mkdirSync(join(dir, 'lib'), { recursive: true })
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest))
    for (const file of files) writeFileSync(join(dir, file), '')
    return dir
  }

  it('the installed webtorrent: its main file, and all three seam modules', () => {
    const main = createRequire(import.meta.url).resolve('webtorrent')
    expect(webtorrentPackageDir(main)).to.equal(dirname(main))
    expect(seamModulesIn(dirname(main)).map(([name]) => name)).to.deep.equal(Object.keys(SEAM_MODULES))
    expect(webtorrentPackageDir(join(dirname(main), 'lib', 'peer.js')), 'not the main file').to.equal(undefined)
  })

  it('a copy whose entry is elsewhere (main in a subdirectory, or an exports map) is recognised by that file only', () => {
    const dir = fakePackage('custom-main', { name: 'webtorrent', main: 'lib/entry.js' }, ['index.js', 'lib/entry.js'])
    expect(webtorrentPackageDir(join(dir, 'lib', 'entry.js'))).to.equal(dir)
    expect(webtorrentPackageDir(join(dir, 'index.js'))).to.equal(undefined)
    const exported = fakePackage('exports-map', { name: 'webtorrent', main: 'index.js', exports: { '.': { import: './lib/entry.js' } } }, ['index.js', 'lib/entry.js'])
    expect(webtorrentPackageDir(join(exported, 'lib', 'entry.js'))).to.equal(exported)
    expect(webtorrentPackageDir(join(exported, 'index.js'))).to.equal(undefined)
  })

  it('a directory named webtorrent holding another package, or no manifest, is not a copy', () => {
    const dir = fakePackage('dir-other', { name: 'not-webtorrent' }, ['index.js'])
    expect(webtorrentPackageDir(join(dir, 'index.js'))).to.equal(undefined)
    const bare = join(root, 'bare', 'webtorrent')
    mkdirSync(bare, { recursive: true })
    writeFileSync(join(bare, 'index.js'), '')
    expect(webtorrentPackageDir(join(bare, 'index.js'))).to.equal(undefined)
  })

  it('a copy missing a seam module lists only the ones present (the compatibility check names the rest)', () => {
    const dir = fakePackage('partial', { name: 'webtorrent' }, ['index.js', 'lib/peer.js'])
    expect(webtorrentPackageDir(join(dir, 'index.js'))).to.equal(dir)
    expect(seamModulesIn(dir).map(([name]) => name)).to.deep.equal(['Peer'])
  })
})
