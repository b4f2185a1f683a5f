/**
 * A small world for state-machine tests: a genesis with three admins (threshold 2) and a vendor,
 * deterministic keys per actor, auto-incrementing nonces and block stamps, and `refuse`, which
 * asserts the code of a refusal AND that the state is unchanged (same object, same encoding).
 */
import { expect } from 'vitest';
import { toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeAttestation } from '../../firmware-ts/protocol/decode/attestation.js';
import { encodeEnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { MedgateError } from '../../firmware-ts/protocol/errors.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { kidOf } from '../../firmware-ts/protocol/kid.js';
import { signManifest, signRotateProof, signTx, txId } from '../../firmware-ts/protocol/tx/sign.js';
import type {
  Action,
  EnvelopeType,
  Manifest,
  Policy,
  PolicySetBody,
  TxBodies,
} from '../../firmware-ts/protocol/tx/types.js';
import { type GenesisConfig, genesisState } from '../../gateway/ledger/genesis.js';
import { type ApplyResult, createStateMachine, type StateMachine } from '../../gateway/ledger/state/apply.js';
import { encodeState } from '../../gateway/ledger/state/encode.js';
import type { State } from '../../gateway/ledger/state/state.js';

export const CHAIN = 'test-chain';
export const T0 = 1_700_000_000_000;
export const DAY = 24 * 60 * 60 * 1000;

export interface TestKey {
  readonly secret: Uint8Array;
  readonly pub: Uint8Array;
  readonly kid: Uint8Array;
  readonly signer: CoseSigner;
}

/** A deterministic key per name: the secret is SHA-256 of the name. */
export function keyFor(name: string, backend: Ed25519Backend = nodeBackend): TestKey {
  const secret = sha256(utf8(`medgate-test-key:${name}`));
  const pub = backend.publicKey(secret);
  return { secret, pub, kid: kidOf(pub), signer: signerFromSecretKey(secret, backend) };
}

export const DEFAULT_POLICY: Policy = Object.freeze({
  approvals: 2,
  approvers: 'all',
  enrolment: 'approval',
  maxWaveSize: 100,
  maxFailures: 10,
});

export function testGenesis(over: Partial<GenesisConfig> = {}): GenesisConfig {
  return {
    chain: CHAIN,
    authorities: [keyFor('authority').pub],
    admins: ['a', 'b', 'c'].map((id) => ({ id, pub: keyFor(`admin:${id}`).pub })),
    threshold: 2,
    vendors: [{ id: 'acme', pub: keyFor('vendor:acme').pub, models: ['m1', 'm2'] }],
    policies: [
      { model: '*', policy: DEFAULT_POLICY },
      { model: 'm2', policy: { ...DEFAULT_POLICY, approvals: 1, enrolment: 'auto' } },
    ] satisfies PolicySetBody[],
    ...over,
  };
}

export interface SignOptions {
  nonce?: number;
  chain?: string;
  t?: number;
  /** Sign with this key instead of the actor's own. */
  key?: TestKey;
}

export class World {
  readonly sm: StateMachine;
  state: State;
  height = 0;
  time = T0;
  private readonly nonces = new Map<string, number>();
  /** Keys of actors whose key is not keyFor(actor) (rotated devices). */
  private readonly keys = new Map<string, TestKey>();

  constructor(genesis: GenesisConfig = testGenesis(), backend: Ed25519Backend = nodeBackend) {
    this.sm = createStateMachine({ backend });
    this.state = genesisState(genesis, T0);
  }

  key(actor: string): TestKey {
    return this.keys.get(actor) ?? keyFor(actor);
  }

  setKey(actor: string, key: TestKey): void {
    this.keys.set(actor, key);
  }

  nextNonce(actor: string): number {
    const n = (this.nonces.get(actor) ?? 0) + 1;
    this.nonces.set(actor, n);
    return n;
  }

  /** The next block's stamp. */
  get ctx(): { height: number; time: number } {
    return { height: this.height + 1, time: this.time + 1000 };
  }

  sign<K extends EnvelopeType>(actor: string, type: K, body: TxBodies[K], o: SignOptions = {}): Uint8Array {
    const tx = {
      type,
      chain: o.chain ?? CHAIN,
      actor,
      nonce: o.nonce ?? this.nextNonce(actor),
      t: o.t ?? this.time,
      body,
    };
    return signTx(tx as Parameters<typeof signTx>[0], (o.key ?? this.key(actor)).signer);
  }

  /** Applies in a new block; advances the world. */
  apply(bytes: Uint8Array, ctx = this.ctx): ApplyResult {
    const result = this.sm.apply(this.state, bytes, ctx);
    this.state = result.state;
    this.height = ctx.height;
    this.time = ctx.time;
    return result;
  }

  /** Asserts a refusal with `code` and that nothing changed. Returns the error. */
  refuse(bytes: Uint8Array, code: string, ctx = this.ctx): MedgateError {
    const before = this.state;
    const encoded = encodeState(before);
    let caught: unknown;
    try {
      this.sm.apply(before, bytes, ctx);
    } catch (err) {
      caught = err;
    }
    expect(caught, `expected ${code}`).toBeInstanceOf(MedgateError);
    expect((caught as MedgateError).code).toBe(code);
    expect(this.state).toBe(before);
    expect(encodeState(this.state)).toEqual(encoded);
    return caught as MedgateError;
  }

  // ---- conveniences ----

  enrol(dev: string, model = 'm1', by = 'admin:a'): ApplyResult {
    return this.apply(this.sign(by, 'device.enrol', { dev, pub: this.key(dev).pub, model }));
  }

  proposeTx(admin: string, action: Action, expires = this.time + DAY): Uint8Array {
    return this.sign(admin, 'proposal.create', { action, expires });
  }

  /** Creates a proposal; returns its id (hex) and the result. */
  propose(admin: string, action: Action, expires?: number): { id: string; result: ApplyResult } {
    const bytes = this.proposeTx(admin, action, expires);
    return { id: toHex(txId(bytes)), result: this.apply(bytes) };
  }

  approveTx(admin: string, id: string): Uint8Array {
    return this.sign(admin, 'proposal.approve', { proposal: fromHexId(id) });
  }

  approve(admin: string, id: string): ApplyResult {
    return this.apply(this.approveTx(admin, id));
  }

  /** Proposes and approves until executed (admins in order). */
  govern(action: Action, admins = ['admin:a', 'admin:b']): string {
    const [first, ...rest] = admins;
    const { id } = this.propose(first!, action);
    for (const admin of rest) this.approve(admin, id);
    return id;
  }

  manifest(over: Partial<Manifest> = {}, vendor = 'vendor:acme'): Uint8Array {
    const m: Manifest = {
      vendor: 'acme',
      model: 'm1',
      seq: 2,
      version: '2.0.0',
      digest: sha256(utf8(`image-${over.seq ?? 2}`)),
      size: 1000,
      created: T0,
      ...over,
    };
    return signManifest(m, this.key(vendor).signer, CHAIN);
  }

  /** Releases a manifest; returns its release id bytes. */
  release(over: Partial<Manifest> = {}): Uint8Array {
    const manifest = this.manifest(over);
    this.apply(this.sign('admin:a', 'firmware.release', { manifest }));
    return sha256(manifest);
  }

  selfEnrolRequest(
    dev: string,
    model = 'm1',
    o: {
      vendor?: string;
      attDev?: string;
      attModel?: string;
      attPub?: Uint8Array;
      t?: number;
      chain?: string;
    } = {},
  ): Uint8Array {
    const key = this.key(dev);
    const aad = chainAad(o.chain ?? CHAIN);
    const att = signCoseSign1(
      encodeAttestation({ dev: o.attDev ?? dev, pub: o.attPub ?? key.pub, model: o.attModel ?? model }),
      this.key(o.vendor ?? 'vendor:acme').signer,
      aad,
    );
    const payload = encodeEnrolRequest({
      dev,
      pub: key.pub,
      model,
      t: o.t ?? this.time,
      nonce: sha256(utf8(dev)).slice(0, 16),
      att,
    });
    return signCoseSign1(payload, key.signer, aad);
  }

  rotateProof(
    dev: string,
    newKey: TestKey,
    over: { dev?: string; old?: Uint8Array; pub?: Uint8Array } = {},
  ): Uint8Array {
    return signRotateProof(
      { dev: over.dev ?? dev, old: over.old ?? this.key(dev).kid, pub: over.pub ?? newKey.pub },
      newKey.signer,
      CHAIN,
    );
  }
}

export function fromHexId(id: string): Uint8Array {
  const out = new Uint8Array(id.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(id.slice(i * 2, i * 2 + 2), 16);
  return out;
}
