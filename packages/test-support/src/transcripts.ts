/**
 * The records of the known-answer fixtures test-fixtures/mse-core/transcripts.json (the plain spec) and
 * extension-vectors.json (the PadC/PadD extension, docs/mse-extension.md): written by
 * scripts/make-transcripts.ts, replayed by mse-core's tests. Byte strings are hex.
 */
import { readFileSync } from 'node:fs'
import type { EncryptionPolicy } from 'mse-core'

/** What a transcript is made from: the inputs. */
export interface TranscriptSpec {
  name: string
  description: string
  /** The DRBG seeds of each side's `random` option (DRBG_DEFINITION). */
  seeds: { initiator: string, responder: string }
  infoHash: string
  initiatorPolicy: EncryptionPolicy
  responderPolicy: EncryptionPolicy
  /** The initial payload (IA): empty, or the 68-byte BitTorrent handshake. */
  ia: string
  /** Payload sent each way after the handshake. */
  payload: { aToB: string, bToA: string }
}

/** The extension's derivations and blocks (extension-vectors.json only). */
export interface ExtensionDetail {
  K: string
  offer: string | null
  confirmation: string | null
  aes: Record<'aToB' | 'bToA', { key: string, counterBlock: string, keystream64: string }>
}

/** A transcript: the inputs and everything recorded from them. */
export interface Transcript extends TranscriptSpec {
  skey: string
  privateKeys: { initiator: string, responder: string }
  padLengths: { padA: number, padB: number, padC: number, padD: number }
  /** Pad-length draws rejected (>= 65151) and drawn again. */
  padLengthRedraws: number
  Ya: string
  Yb: string
  S: string
  cryptoProvide: number
  cryptoSelect: number
  method: 'rc4' | 'aes-128-ctr' | 'plaintext-after-mse'
  flights: Record<'1' | '2' | '3' | '4', string>
  /** The payload as it crossed the wire (encrypted, or as is after plaintext-after-mse). */
  wire: { aToB: string, bToA: string }
  extension?: ExtensionDetail
}

export interface ExtensionVector extends Transcript {
  extension: ExtensionDetail
}

const fixture = (name: string): URL => new URL(`../../../test-fixtures/mse-core/${name}.json`, import.meta.url)

/** test-fixtures/mse-core/transcripts.json. */
export function readTranscripts (): { prime: string, transcripts: Transcript[] } {
  return JSON.parse(readFileSync(fixture('transcripts'), 'utf8'))
}

/** test-fixtures/mse-core/extension-vectors.json. */
export function readExtensionVectors (): { transcripts: ExtensionVector[] } {
  return JSON.parse(readFileSync(fixture('extension-vectors'), 'utf8'))
}
