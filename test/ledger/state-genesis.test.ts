import { describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  decodeGenesis,
  decodeGenesisBytes,
  encodeGenesis,
  type GenesisConfig,
  genesisState,
} from '../../gateway/ledger/genesis.js';
import { encodeState } from '../../gateway/ledger/state/encode.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { policyOf } from '../../gateway/ledger/state/queries.js';
import { DEFAULT_POLICY, keyFor, T0, testGenesis } from './state-harness.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isMedgateError(err)) return err.code;
    throw err;
  }
  return undefined;
}

/** The genesis map with one field replaced (to feed the decoder what an encoder would refuse). */
function withField(config: GenesisConfig, key: string, value: unknown): Map<string, unknown> {
  const map = decodeCbor(encodeGenesis(config), { maxBytes: 1 << 20 }) as Map<string, unknown>;
  map.set(key, value);
  return map;
}

describe('genesis config', () => {
  it('round-trips through deterministic CBOR and builds the state at height 0', () => {
    const config = testGenesis();
    const bytes = encodeGenesis(config);
    const decoded = decodeGenesisBytes(bytes);
    expect(encodeGenesis(decoded)).toEqual(bytes);
    const state = genesisState(decoded, T0);
    expect(encodeState(state)).toEqual(encodeState(genesisState(config, T0)));
    expect(state.chain).toBe('test-chain');
    expect(state.height).toBe(0);
    expect(state.time).toBe(T0);
    expect(state.threshold).toBe(2);
    expect([...state.admins.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(state.admins.get('a')?.since).toEqual({ height: 0, time: T0 });
    expect(state.vendors.get('acme')?.models).toEqual(['m1', 'm2']);
    expect(policyOf(state, 'm1')).toEqual(DEFAULT_POLICY);
    expect(policyOf(state, 'm2').enrolment).toBe('auto');
    expect(state.authorities).toEqual([keyFor('authority').pub]);
  });

  it('refuses inconsistent configs with precise codes', () => {
    const g = testGenesis();
    const admin = (id: string, name = `admin:${id}`) => ({ id, pub: keyFor(name).pub });
    expect(codeOf(() => genesisState({ ...g, admins: [admin('a'), admin('a', 'x')] }))).toBe(
      StateErrorCode.BAD_GENESIS,
    );
    expect(codeOf(() => genesisState({ ...g, admins: [admin('a'), admin('b', 'admin:a')] }))).toBe(
      StateErrorCode.KEY_IN_USE,
    );
    expect(codeOf(() => genesisState({ ...g, authorities: [keyFor('admin:a').pub] }))).toBe(
      StateErrorCode.KEY_IN_USE,
    );
    expect(codeOf(() => genesisState({ ...g, authorities: [new Uint8Array(32)] }))).toBe(
      ProtocolErrorCode.SMALL_ORDER_KEY,
    );
    expect(codeOf(() => genesisState({ ...g, threshold: 4 }))).toBe(StateErrorCode.GOVERNANCE_UNSATISFIABLE);
    expect(codeOf(() => genesisState({ ...g, policies: g.policies.filter((p) => p.model !== '*') }))).toBe(
      StateErrorCode.BAD_GENESIS,
    );
    expect(
      codeOf(() =>
        genesisState({
          ...g,
          policies: [...g.policies, { model: 'm3', policy: { ...DEFAULT_POLICY, approvers: ['zed'] } }],
        }),
      ),
    ).toBe(StateErrorCode.BAD_GENESIS);
    expect(
      codeOf(() =>
        genesisState({ ...g, policies: [...g.policies, { model: 'm2', policy: DEFAULT_POLICY }] }),
      ),
    ).toBe(StateErrorCode.BAD_GENESIS);
  });

  it('refuses malformed configs field by field', () => {
    const g = testGenesis();
    expect(codeOf(() => decodeGenesis(withField(g, 'v', 2)))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(codeOf(() => decodeGenesis(withField(g, 'extra', 1)))).toBe(ProtocolErrorCode.UNKNOWN_FIELD);
    expect(codeOf(() => decodeGenesis(withField(g, 'chain', 'has space')))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(codeOf(() => decodeGenesis(withField(g, 'authorities', [new Uint8Array(31)])))).toBe(
      ProtocolErrorCode.BAD_FIELD,
    );
    expect(codeOf(() => decodeGenesis(withField(g, 'admins', [])))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(codeOf(() => decodeGenesis(withField(g, 'threshold', 0)))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(codeOf(() => decodeGenesisBytes(new Uint8Array([0xff])))).toMatch(/^MG_ERR_CBOR_/);
    expect(codeOf(() => decodeGenesisBytes(encodeCbor([1, 2])))).toBe(ProtocolErrorCode.BAD_FIELD);
    // An encoder refuses what the decoder would refuse.
    expect(codeOf(() => encodeGenesis({ ...g, threshold: 0 }))).toBe(ProtocolErrorCode.BAD_ARGUMENT);
  });
});
