import { describe, expect, it } from 'vitest';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { genesisState } from '../../gateway/ledger/genesis.js';
import { createStateMachine } from '../../gateway/ledger/state/apply.js';
import { decodeState, encodeState, stateRoot } from '../../gateway/ledger/state/encode.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import type { State } from '../../gateway/ledger/state/state.js';
import { T0 } from './state-harness.js';
import { Workload, type WorkloadEntry } from './state-workload.js';

function replay(entries: readonly WorkloadEntry[], backend: Ed25519Backend, from?: State): State {
  const sm = createStateMachine({ backend });
  let state = from ?? genesisState(new Workload(backend).genesis, T0);
  for (const e of entries) state = sm.apply(state, e.bytes, e.ctx).state;
  return state;
}

const workload = new Workload(nodeBackend, 7, 50);
const entries = workload.generate(3000);

describe('determinism of the state machine', () => {
  it('the generated workload is valid and varied', () => {
    const mix = workload.mix();
    for (const type of [
      'device.enrol',
      'device.enrol.self',
      'device.approve',
      'access.grant',
      'update.report',
      'proposal.create',
      'proposal.approve',
      'firmware.release',
      'device.rotate',
    ]) {
      expect(mix[type], type).toBeGreaterThan(0);
    }
    const state = replay(entries, nodeBackend);
    expect(state.devices.size).toBeGreaterThan(300);
    expect(state.rollouts.size).toBeGreaterThan(0);
  });

  it('applying the same entries twice gives byte-identical states', () => {
    const a = replay(entries, nodeBackend);
    const b = replay(entries, nodeBackend);
    expect(encodeState(a)).toEqual(encodeState(b));
    expect(stateRoot(a)).toEqual(stateRoot(b));
  });

  it('the noble and node backends reach the same state', () => {
    const part = entries.slice(0, 400);
    expect(encodeState(replay(part, nobleBackend))).toEqual(encodeState(replay(part, nodeBackend)));
  });

  it('never changes an earlier state (structural sharing, no mutation)', () => {
    const sm = createStateMachine({ backend: nodeBackend });
    let state = genesisState(workload.genesis, T0);
    const snapshots: [State, Uint8Array][] = [];
    entries.forEach((e, i) => {
      state = sm.apply(state, e.bytes, e.ctx).state;
      if (i % 500 === 0) snapshots.push([state, encodeState(state)]);
    });
    for (const [s, bytes] of snapshots) expect(encodeState(s)).toEqual(bytes);
  });

  it('a snapshot (encodeState → decodeState) resumes to the same state', () => {
    const mid = replay(entries.slice(0, 1500), nodeBackend);
    const restored = decodeState(encodeState(mid));
    expect(encodeState(restored)).toEqual(encodeState(mid));
    const resumed = replay(entries.slice(1500), nodeBackend, restored);
    expect(encodeState(resumed)).toEqual(encodeState(replay(entries, nodeBackend)));
  });

  it('refuses damaged snapshots', () => {
    const bytes = encodeState(replay(entries.slice(0, 100), nodeBackend));
    const cut = bytes.subarray(0, bytes.length - 1);
    const other = encodeCbor(new Map([['v', 2]]));
    for (const bad of [cut, other, new Uint8Array([0xa0])]) {
      let code: string | undefined;
      try {
        decodeState(bad);
      } catch (err) {
        if (isMedgateError(err)) code = err.code;
      }
      expect(code).toBe(StateErrorCode.SNAPSHOT_INVALID);
    }
  });
});
