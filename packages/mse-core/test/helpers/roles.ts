/**
 * One handshake class under test against a hand-built peer (helpers/manual.ts), for tests that need
 * to send exact, possibly invalid, bytes.
 */
import { expect } from 'chai'
import {
  InitiatorHandshake, ResponderHandshake, type HandshakeStep, type InitiatorOptions, type ResponderOptions
} from '../../src/index.js'
import { drbg } from 'test-support'
import { ManualSide } from './manual.js'
import { makeRegistry, infoHashOf } from './pair.js'

export const INFO_HASH = infoHashOf('roles')

export function newResponder (options: Partial<ResponderOptions> = {}): ResponderHandshake {
  return new ResponderHandshake({ skeys: makeRegistry(INFO_HASH), random: drbg('roles B'), ...options })
}

export function newInitiator (options: Partial<InitiatorOptions> = {}): InitiatorHandshake {
  return new InitiatorHandshake({ infoHash: INFO_HASH, random: drbg('roles A'), ...options })
}

export interface ResponderUnderTest {
  b: ResponderHandshake
  a: ManualSide
  /** B's flight 2 (Yb, PadB). */
  flight2: Uint8Array
}

/** A ResponderHandshake that has received a hand-built Ya (alone) and answered with flight 2. */
export function responderAfterKey (options: Partial<ResponderOptions> = {}, skey = INFO_HASH, seed = 'manual A', now = 1): ResponderUnderTest {
  const b = newResponder(options)
  expect(b.start(0).status).to.equal('pending')
  const a = new ManualSide('initiator', seed)
  const step = b.receive(a.publicKey, now)
  expect(step.status, step.status === 'failed' ? step.error.message : '').to.equal('pending')
  expect(step.send.length).to.be.within(96, 608)
  a.setPeerKey(step.send.subarray(0, 96), skey)
  return { b, a, flight2: step.send }
}

export interface InitiatorUnderTest {
  a: InitiatorHandshake
  b: ManualSide
  flight1: Uint8Array
  flight3: Uint8Array
}

/** An InitiatorHandshake that has sent flight 1, received a hand-built Yb (alone) and sent flight 3. */
export function initiatorAfterKey (options: Partial<InitiatorOptions> = {}, seed = 'manual B', now = 1): InitiatorUnderTest {
  const a = newInitiator(options)
  const flight1 = a.start(0).send
  const b = new ManualSide('responder', seed)
  b.setPeerKey(flight1.subarray(0, 96), INFO_HASH)
  const step = a.receive(b.publicKey, now)
  expect(step.status, step.status === 'failed' ? step.error.message : '').to.equal('pending')
  expect(step.send.length).to.be.greaterThan(40)
  return { a, b, flight1, flight3: step.send }
}

export function expectFailed (step: HandshakeStep, code: string, context = ''): void {
  const detail = step.status === 'failed' ? step.error.message : step.status === 'done' ? `done: ${step.result.method}` : 'pending'
  expect(step.status, `${context} ${detail}`).to.equal('failed')
  if (step.status === 'failed') expect(step.error.code, `${context} ${detail}`).to.equal(code)
}

export function expectDone (step: HandshakeStep, context = ''): Extract<HandshakeStep, { status: 'done' }> {
  const detail = step.status === 'failed' ? `${step.error.code}: ${step.error.message}` : step.status
  expect(step.status, `${context} ${detail}`).to.equal('done')
  return step as Extract<HandshakeStep, { status: 'done' }>
}

export function expectPending (step: HandshakeStep, context = ''): void {
  const detail = step.status === 'failed' ? `${step.error.code}: ${step.error.message}` : step.status
  expect(step.status, `${context} ${detail}`).to.equal('pending')
}
