/**
 * The one way webtorrent-node keeps state about upstream objects (clients, torrents, peers, sockets, the
 * patched classes): WeakMaps keyed by the upstream object, never properties written onto it, so nothing
 * of ours shows up in upstream's objects and an entry goes when its object is collected.
 *
 * The tables live in one process-wide registry under a single `Symbol.for` key: every copy of
 * webtorrent-node loaded in a process (the program's, a dependency's, register mode's) shares them, so a
 * second copy neither patches a class twice nor misses the state another copy attached to a client.
 */
const REGISTRY = Symbol.for('webtorrent-node.side-tables')

type Registry = Map<string, WeakMap<object, unknown>>

function registry (): Registry {
  const holder = globalThis as typeof globalThis & { [REGISTRY]?: Registry }
  holder[REGISTRY] ??= new Map()
  return holder[REGISTRY]
}

/** The table called `name` (created on first use): one entry per upstream object. */
export function sideTable<K extends object, V> (name: string): WeakMap<K, V> {
  const tables = registry()
  let table = tables.get(name)
  if (!table) {
    table = new WeakMap()
    tables.set(name, table)
  }
  return table as WeakMap<K, V>
}
