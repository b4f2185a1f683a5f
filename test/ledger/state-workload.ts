/**
 * A deterministic, realistic stream of valid ledger entries: admin and self enrolments,
 * approvals, clinician grants and revokes, firmware releases, rollouts authorised by 2-of-3
 * proposals, device update reports, key rotations and governance proposals. Used by the
 * determinism tests and by test/bench/ledger-state.ts. Every entry is valid when applied in
 * order at its `ctx`; the generator tracks just enough to stay valid.
 */
import { toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { encodeAttestation } from '../../firmware-ts/protocol/decode/attestation.js';
import { encodeEnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { signManifest, signRotateProof, signTx, txId } from '../../firmware-ts/protocol/tx/sign.js';
import type { EnvelopeType, Tx, TxBodies, UpdateState } from '../../firmware-ts/protocol/tx/types.js';
import type { GenesisConfig } from '../../gateway/ledger/genesis.js';
import { CHAIN, DAY, keyFor, T0, type TestKey, testGenesis } from './state-harness.js';

export interface WorkloadEntry {
  readonly bytes: Uint8Array;
  readonly ctx: { readonly height: number; readonly time: number };
  readonly type: string;
}

/** mulberry32: a tiny seeded PRNG, so the stream is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STAGES: readonly UpdateState[] = ['downloading', 'verified', 'installed', 'confirmed'];
const ADMINS = ['admin:a', 'admin:b', 'admin:c'];

interface Rollout {
  id: Uint8Array;
  seq: number;
  /** Next stage index per device (absent: not started). */
  stage: Map<string, number>;
  queue: string[];
}

export class Workload {
  readonly genesis: GenesisConfig = testGenesis();
  readonly entries: WorkloadEntry[] = [];
  private readonly rand: () => number;
  private readonly nonces = new Map<string, number>();
  private readonly keys = new Map<string, TestKey>();
  private height = 1;
  private inBlock = 0;
  private devCount = 0;
  private readonly active: string[] = []; // active m1 devices
  private readonly pending: string[] = [];
  private readonly clinicians: string[] = [];
  private readonly granted = new Map<string, Set<string>>();
  private readonly firmware = new Map<string, number>(); // running seq per device
  private seq = 1;
  private rollout: Rollout | undefined;
  private policyCount = 0;
  private rotations = 0;

  constructor(
    private readonly backend: Ed25519Backend,
    seed = 1,
    private readonly perBlock = 100,
  ) {
    this.rand = rng(seed);
  }

  private get time(): number {
    return T0 + this.height * 1000;
  }

  private key(actor: string): TestKey {
    let k = this.keys.get(actor);
    if (k === undefined) {
      k = keyFor(actor, this.backend);
      this.keys.set(actor, k);
    }
    return k;
  }

  private push(bytes: Uint8Array, type: string): void {
    this.entries.push({ bytes, ctx: { height: this.height, time: this.time }, type });
    if (++this.inBlock === this.perBlock) {
      this.inBlock = 0;
      this.height++;
    }
  }

  private tx<K extends EnvelopeType>(actor: string, type: K, body: TxBodies[K]): Uint8Array {
    const nonce = (this.nonces.get(actor) ?? 0) + 1;
    this.nonces.set(actor, nonce);
    const bytes = signTx(
      { type, chain: CHAIN, actor, nonce, t: this.time, body } as Tx,
      this.key(actor).signer,
    );
    this.push(bytes, type);
    return bytes;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)]!;
  }

  private admin(): string {
    return this.pick(ADMINS);
  }

  private enrol(): void {
    const dev = `dev-${++this.devCount}`;
    const key = this.key(dev);
    if (this.rand() < 0.8) {
      this.tx(this.admin(), 'device.enrol', { dev, pub: key.pub, model: 'm1' });
      this.active.push(dev);
      return;
    }
    // Self-enrolment of an m1 device (policy: approval) with the vendor's attestation.
    const aad = chainAad(CHAIN);
    const att = signCoseSign1(
      encodeAttestation({ dev, pub: key.pub, model: 'm1' }),
      this.key('vendor:acme').signer,
      aad,
    );
    const nonce = sha256(utf8(dev)).slice(0, 16);
    const payload = encodeEnrolRequest({ dev, pub: key.pub, model: 'm1', t: this.time, nonce, att });
    this.push(signCoseSign1(payload, key.signer, aad), 'device.enrol.self');
    this.pending.push(dev);
  }

  private approve(): void {
    const dev = this.pending.shift()!;
    this.tx(this.admin(), 'device.approve', { dev });
    this.active.push(dev);
  }

  private access(): void {
    if (this.clinicians.length < 50 && (this.clinicians.length === 0 || this.rand() < 0.1)) {
      const id = `cl-${this.clinicians.length + 1}`;
      this.tx(this.admin(), 'clinician.register', { id, pub: this.key(`clinician:${id}`).pub });
      this.clinicians.push(id);
      this.granted.set(id, new Set());
      return;
    }
    const clinician = this.pick(this.clinicians);
    const granted = this.granted.get(clinician)!;
    if (granted.size > 0 && this.rand() < 0.2) {
      const dev = granted.values().next().value as string;
      granted.delete(dev);
      this.tx(this.admin(), 'access.revoke', { clinician, devs: [dev] });
      return;
    }
    const devs = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const dev = this.pick(this.active);
      if (!granted.has(dev)) devs.add(dev);
    }
    if (devs.size === 0) return;
    for (const dev of devs) granted.add(dev);
    this.tx(this.admin(), 'access.grant', { clinician, devs: [...devs] });
  }

  /** A release, then a rollout to every m1 device, proposed by one admin and approved by another. */
  private newRollout(): void {
    this.seq++;
    const manifest = signManifest(
      {
        vendor: 'acme',
        model: 'm1',
        seq: this.seq,
        version: `1.${this.seq}.0`,
        digest: sha256(utf8(`image-${this.seq}`)),
        size: 512 * 1024,
        created: this.time,
      },
      this.key('vendor:acme').signer,
      CHAIN,
    );
    this.tx('admin:a', 'firmware.release', { manifest });
    const proposal = this.tx('admin:a', 'proposal.create', {
      action: {
        type: 'rollout.authorize',
        body: {
          manifest: sha256(manifest),
          model: 'm1',
          target: { cohort: 'all' },
          notBefore: this.time,
          expires: this.time + 30 * DAY,
          waves: [10, 100],
          maxFailures: 10,
        },
      },
      expires: this.time + DAY,
    });
    const id = txId(proposal);
    this.tx('admin:b', 'proposal.approve', { proposal: id });
    this.rollout = { id, seq: this.seq, stage: new Map(), queue: [...this.active] };
  }

  private report(): void {
    const r = this.rollout;
    if (r === undefined || r.queue.length === 0) {
      this.newRollout();
      return;
    }
    const dev = r.queue[0]!;
    const stage = r.stage.get(dev) ?? 0;
    const fail = stage === 2 && this.rand() < 0.01;
    const state: UpdateState = fail ? 'rolledBack' : STAGES[stage]!;
    const running = this.firmware.get(dev) ?? 1;
    const seq = state === 'confirmed' ? r.seq : running;
    const body: TxBodies['update.report'] =
      state === 'rolledBack'
        ? { rollout: r.id, state, seq, error: 'MG_ERR_TRIAL_BOOT' }
        : { rollout: r.id, state, seq };
    this.tx(dev, 'update.report', body);
    if (state === 'confirmed') this.firmware.set(dev, r.seq);
    if (state === 'confirmed' || state === 'rolledBack') r.queue.shift();
    else r.stage.set(dev, stage + 1);
  }

  private rotate(): void {
    const dev = this.pick(this.active);
    const old = this.key(dev);
    const next = keyFor(`${dev}#${++this.rotations}`, this.backend);
    const proof = signRotateProof({ dev, old: old.kid, pub: next.pub }, next.signer, CHAIN);
    this.tx(dev, 'device.rotate', { pub: next.pub, proof });
    this.keys.set(dev, next);
  }

  private governance(): void {
    const model = `x${++this.policyCount}`;
    const proposal = this.tx('admin:c', 'proposal.create', {
      action: {
        type: 'policy.set',
        body: {
          model,
          policy: {
            approvals: 2,
            approvers: ['a', 'b', 'c'],
            enrolment: 'auto',
            maxWaveSize: 50,
            maxFailures: 5,
          },
        },
      },
      expires: this.time + DAY,
    });
    this.tx('admin:a', 'proposal.approve', { proposal: txId(proposal) });
  }

  /** Generates entries until there are at least `n`. */
  generate(n: number): WorkloadEntry[] {
    while (this.entries.length < n) {
      const r = this.rand();
      // Per device: one enrolment, a few grants, several update reports per rollout.
      if (this.active.length < 20 || r < 0.15) this.enrol();
      else if (r < 0.19 && this.pending.length > 0) this.approve();
      else if (r < 0.35) this.access();
      else if (r < 0.955) this.report();
      else if (r < 0.975) this.rotate();
      else this.governance();
    }
    this.entries.length = n;
    return this.entries;
  }

  /** Count of entries per type (for the bench's table). */
  mix(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.entries) out[e.type] = (out[e.type] ?? 0) + 1;
    return out;
  }

  /** Hex ids of the rollouts created (tests look them up). */
  get currentRollout(): string | undefined {
    return this.rollout === undefined ? undefined : toHex(this.rollout.id);
  }
}
