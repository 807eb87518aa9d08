/**
 * Bounded waiting. Every wait in the tests and scripts goes through `within` (or `until`, which polls), so a
 * hang fails with what was awaited instead of mocha's bare timeout.
 */
import type { EventEmitter } from 'node:events'

export class TimeoutError extends Error {
  override name = 'TimeoutError'
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Settles like `promise`, or rejects with a TimeoutError naming `what` if it has not settled within `ms`. */
export async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

type Falsy = undefined | null | false | 0 | ''

/**
 * Polls `check` every `intervalMs` until it returns a truthy value (resolved with it), or rejects after `ms`.
 * For states that announce no event (a count inside upstream code, a file another process writes).
 */
export async function until<T> (check: () => T | Falsy | Promise<T | Falsy>, ms: number, what: string, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() >= deadline) throw new TimeoutError(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())))
  }
}

type Emitter = EventEmitter | { once: (...args: any[]) => unknown, removeListener: (...args: any[]) => unknown }

/** Resolves with the event's arguments, or rejects after `ms`. */
export async function nextEvent (emitter: Emitter, event: string, ms: number): Promise<any[]> {
  let listener: ((...args: any[]) => void) | undefined
  try {
    return await within(new Promise<any[]>(resolve => {
      listener = (...args) => resolve(args)
      emitter.once(event, listener)
    }), ms, `'${event}'`)
  } finally {
    if (listener) emitter.removeListener(event, listener)
  }
}

/** Resolves once `stream` has emitted 'close' (immediately if it already has). */
export async function closed (stream: { destroyed: boolean, once: (event: 'close', listener: () => void) => unknown }, ms: number, what: string): Promise<void> {
  if (stream.destroyed) return
  await within(new Promise<void>(resolve => stream.once('close', resolve)), ms, `${what} to close`)
}

/**
 * Marks a promise that the test awaits later: if the test fails before getting there, its rejection must
 * not surface as an unhandled rejection on top of the real failure.
 */
export function awaitedLater<T> (promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}

/** The first `length` bytes a readable stream emits (as 'data'), joined: resolves once that many arrived. */
export async function readBytes (stream: { on: (event: 'data', listener: (chunk: any) => void) => unknown }, length: number): Promise<Buffer> {
  return await new Promise<Buffer>(resolve => {
    const received: Buffer[] = []
    let total = 0
    stream.on('data', (chunk: Uint8Array) => {
      received.push(Buffer.from(chunk))
      total += chunk.length
      if (total >= length) resolve(Buffer.concat(received))
    })
  })
}
