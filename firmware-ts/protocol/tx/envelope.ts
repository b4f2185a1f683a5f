/**
 * The signed envelope of a ledger transaction (DESIGN §4): the closed CBOR map
 * `{"type": tstr, "chain": tstr, "actor": tstr, "nonce": uint, "t": uint, "body": map}`.
 */
import { Fields, type TextRule } from '../decode/fields.js';
import { parseActor } from './actor.js';
import { decodeBody, encodeBody, ID_RULE, oneOf } from './bodies.js';
import { ACTION_TYPES, type EnvelopeType, TX_TYPES, type Tx } from './types.js';

export const ENVELOPE_KEYS = Object.freeze(['type', 'chain', 'actor', 'nonce', 't', 'body'] as const);

/** A chain id: 1 to 64 of `A-Za-z0-9._-` (it is also the COSE external_aad). */
export const CHAIN_ID_RULE: TextRule = ID_RULE;

/** Every type an envelope may name: direct transactions, and threshold actions (refused later). */
const ENVELOPE_TYPES: readonly EnvelopeType[] = Object.freeze([...TX_TYPES, ...ACTION_TYPES]);

/** Decodes an envelope (the COSE payload, already CBOR-decoded) with its typed body. */
export function decodeEnvelope(value: unknown): Tx {
  const f = Fields.of(value, '', ENVELOPE_KEYS);
  const type = oneOf(f, 'type', ENVELOPE_TYPES);
  const chain = f.text('chain', CHAIN_ID_RULE);
  const actor = f.text('actor', { min: 1, max: 'clinician:'.length + 64 });
  parseActor(actor);
  const nonce = f.uint('nonce');
  const t = f.uint('t');
  return Object.freeze({ type, chain, actor, nonce, t, body: decodeBody(type, f.raw('body')) }) as Tx;
}

/** The CBOR map of an envelope (decodeEnvelope's inverse). */
export function encodeEnvelope(tx: Tx): Map<string, unknown> {
  return new Map<string, unknown>([
    ['type', tx.type],
    ['chain', tx.chain],
    ['actor', tx.actor],
    ['nonce', tx.nonce],
    ['t', tx.t],
    ['body', encodeBody(tx.type, tx.body)],
  ]);
}
